"""Several ``python -m bot`` processes in webhook mode behind a round-robin front, and
cashiers who use them as people do: for tests/test_cluster.py and bench/instances.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.devtools.sandbox import SandboxKeys
from bot.devtools.telegram import ChatMessage, FakeTelegram
from tests.childstart import spawn
from tests.harness import (
    PARTIES_ENV,
    SUPERVISOR,
    SUPERVISOR_CHAT,
    TOKEN,
    _has_button,
    child_env,
    free_port,
)

ROOT = Path(__file__).resolve().parents[1]
SECRET = "cluster-webhook-secret-0123456789"


class Front:
    """Round-robin over the instances' webhook ports, as a load balancer would; an instance
    that does not answer is skipped (the update goes to the next)."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.turn = 0
        #: Which instance took each cashier's updates (a conversation spread over them).
        self.took: dict[int, set[int]] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        app = web.Application()
        app.router.add_post("/hook", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        sender = _sender(json.loads(body))
        for _ in range(len(self.ports)):
            number = self.turn % len(self.ports)
            self.turn += 1
            try:
                async with self._session.post(
                    f"http://127.0.0.1:{self.ports[number]}/hook",
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Telegram-Bot-Api-Secret-Token": SECRET,
                    },
                ) as answer:
                    if answer.status < 500:
                        self.took.setdefault(sender, set()).add(number)
                        return web.Response(status=answer.status)
            except (aiohttp.ClientError, TimeoutError):
                continue  # that instance is down: the next one
        return web.Response(status=502)


def _sender(update: dict[str, Any]) -> int:
    event = update.get("message") or update.get("callback_query") or {}
    return int(event.get("from", {}).get("id", 0))


class Cluster:
    """The bot processes, each with its own name and ports, sharing everything else."""

    def __init__(self, env: dict[str, str], folder: Path, count: int = 3) -> None:
        self.env = env
        self.folder = folder
        self.count = count
        self.ports = [free_port() for _ in range(count)]
        self.status_ports = [free_port() for _ in range(count)]
        self.processes: dict[int, spawn.Child] = {}

    async def start(self, number: int) -> None:
        env = {
            **self.env,
            "INSTANCE_NAME": f"bot-{number}",
            "WEB_PORT": str(self.ports[number]),
            "METRICS_PORT": str(self.status_ports[number]),
        }
        with open(self.folder / f"bot-{number}.log", "ab") as log:
            self.processes[number] = await spawn.start(
                [], env=env, cwd=self.folder, stdout=spawn.DEVNULL, stderr=log
            )
        healthz = f"http://127.0.0.1:{self.status_ports[number]}/healthz"
        async with asyncio.timeout(60), aiohttp.ClientSession() as session:
            while True:
                assert self.processes[number].returncode is None, self.log(number)
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(healthz) as answer:
                        if answer.status == 200:
                            return
                await asyncio.sleep(0.1)

    async def kill(self, number: int) -> None:
        process = self.processes[number]
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async def stop(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()

    def log(self, number: int) -> str:
        return (self.folder / f"bot-{number}.log").read_text(errors="replace")


class Cashier:
    """A person at the phone: types a step and waits for the answer. ``patient``: each step
    once, one Confirm press per top-up — every step must be answered, an instance killed
    mid-step included. Otherwise (the benchmark's impatient cashier) an answer that never
    comes starts the top-up again, and Confirm is pressed again while nothing happens."""

    def __init__(
        self, user_id: int, telegram: FakeTelegram, deliver: Any, *, patient: bool = False
    ) -> None:
        self.patient = patient
        self.user = FakeTelegram.user(user_id, f"Cashier{user_id}", "en")
        self.id = user_id
        self.telegram = telegram
        self.deliver = deliver
        self.restarts = 0
        self.presses = 0
        self.presses_on: dict[int, int] = {}
        #: Seconds from the first Confirm press to the ✅, per top-up.
        self.latencies: list[float] = []

    async def _step(self, update_id: int, predicate: Any, after: int) -> ChatMessage | None:
        await self.deliver(update_id)
        try:
            return await self.telegram.wait_message(
                self.id, predicate, after=after, timeout=60 if self.patient else 15
            )
        except AssertionError:
            if self.patient:
                chat = [
                    (m.message_id, m.from_bot, m.text[:60])
                    for m in self.telegram.chats.get(self.id, [])[-6:]
                ]
                raise AssertionError(
                    f"cashier {self.id}: update {update_id} unanswered: {chat}"
                ) from None
            return None

    async def top_up(self, login: str, amount: str) -> ChatMessage:
        while True:
            mark = self.telegram.mark()
            prompt = await self._step(
                self.telegram.send_text(self.user, "/cashin"),
                lambda m: m.text.startswith("Enter the client's Allpay login"),
                mark,
            )
            mark = self.telegram.mark()
            asked = prompt and await self._step(
                self.telegram.send_text(self.user, login), _has_button("a:"), mark
            )
            mark = self.telegram.mark()
            card = asked and await self._step(
                self.telegram.send_text(self.user, amount), _has_button("d:"), mark
            )
            status = card and await self._confirm(card)
            if status:
                return status
            self.restarts += 1

    async def _confirm(self, card: ChatMessage) -> ChatMessage | None:
        """Press Confirm until the card shows Allpay's final ✅ (pressing again is what a
        cashier does when nothing happens; the journal pays a draft once). None: the card
        was an earlier one, answered late and replaced meanwhile — start again."""
        pressed = time.monotonic()
        deadline = pressed + 120
        while time.monotonic() < deadline:
            if card.text.startswith("This confirmation is no longer valid"):
                return None
            if any("Confirm" in label for label, _data in card.callback_buttons) and not (
                self.patient and self.presses_on.get(card.message_id)
            ):
                self.presses += 1
                self.presses_on[card.message_id] = 1
                await self.deliver(self.telegram.press_button(self.user, card, "Confirm"))
            with contextlib.suppress(AssertionError):
                status = await self.telegram.wait_message(
                    self.id,
                    lambda m: m.text.startswith("✅") and m.message_id >= card.message_id,
                    after=card.message_id - 1,
                    timeout=8,
                )
                self.latencies.append(time.monotonic() - pressed)
                return status
        chat = [
            (m.message_id, m.from_bot, m.text[:50]) for m in self.telegram.chats.get(self.id, [])
        ]
        raise AssertionError(f"cashier {self.id}: no ✅ for card {card.message_id}: {chat}")


def cluster_env(
    folder: Path,
    *,
    telegram_url: str,
    database_url: str,
    allpay_url: str,
    keys: SandboxKeys,
    cashiers: list[int],
    redis_url: str | None = None,
    redis_prefix: str = "cashin",
) -> dict[str, str]:
    """The settings every instance shares (each adds its name and ports)."""
    env = {
        **child_env(),
        "HOME": str(folder),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram_url,
        "DATABASE_URL": database_url,
        "WEBHOOK_URL": "https://bot.example.kz/hook",
        "WEBHOOK_SECRET": SECRET,
        "ALLPAY_URL": allpay_url,
        "ALLPAY_REQUESTER": "agent-cluster",
        "ALLPAY_CERTIFICATE_NUMBER": keys.certificate_number,
        "ALLPAY_PRIVATE_KEY": str(keys.agent_private),
        "ALLPAY_PUBLIC_KEY": str(keys.allpay_public),
        **PARTIES_ENV,
        # A send's lease is 2 × ALLPAY_TIMEOUT + 5 s: a dead instance's sends move on soon.
        "ALLPAY_TIMEOUT": "2",
        "PENDING_RETRY_MIN": "0.3",
        "PENDING_RETRY_MAX": "1",
        "CASHIER_IDS": ",".join(map(str, cashiers)),
        "SUPERVISOR_IDS": str(SUPERVISOR),
        "SUPERVISOR_CHAT_IDS": str(SUPERVISOR_CHAT),
        "DEFAULT_LANGUAGE": "en",
        "DIGEST_TIME": "off",
        "LOG_LEVEL": "INFO",
    }
    if redis_url is not None:
        env |= {"REDIS_URL": redis_url, "REDIS_PREFIX": redis_prefix}
    return env


@contextlib.asynccontextmanager
async def running_cluster(
    env: dict[str, str], folder: Path, count: int
) -> AsyncIterator[tuple[Cluster, Front]]:
    cluster = Cluster(env, folder, count)
    front = Front(cluster.ports)
    await front.start()
    try:
        await asyncio.gather(*(cluster.start(n) for n in range(count)))
        yield cluster, front
    finally:
        await cluster.stop()
        await front.close()


def webhook_delivery(telegram: FakeTelegram, front: Front, session: aiohttp.ClientSession) -> Any:
    """Telegram's side: POST each update to the front until it is taken."""

    async def deliver(update_id: int) -> None:
        update = telegram.last_update(update_id)
        for _ in range(100):
            async with session.post(
                front.url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            ) as answer:
                if answer.status == 200:
                    return
            await asyncio.sleep(0.1)
        raise AssertionError(f"update {update_id} never taken")

    return deliver
