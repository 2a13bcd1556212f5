"""Each part the bot needs — PostgreSQL, Redis, Allpay — away for 15 s in the middle of a
rush, through a TCP proxy cut both ways (connections refused; connections accepted and never
answered), never by stopping the machine's own services.

What must hold: no payment lost, doubled or made final without Allpay's signed answer; every
step a cashier sends is answered — the step itself, or "temporarily unavailable", never
silence; the bot recovers by itself within 5 s of the part's return; every loop alive after;
/healthz says which part is down and recovers; one log line when the part goes, one when it
returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.devtools.sandbox import RunningSandbox
from bot.devtools.telegram import ChatMessage, FakeTelegram
from bot.domain.model import Status
from bot.wiring.web import start_web
from tests.fixtures import REDIS_URL
from tests.harness import PARTIES, Harness
from tests.tcpproxy import CutProxy

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends

CASHIERS = list(range(8001, 8007))
EACH = 3
CUT = 15.0
BUSY = ("Temporarily unavailable", "not answering", "not confirmed yet")


@dataclass
class Person:
    """A cashier who types each step once and waits for its answer; told "temporarily
    unavailable", waits until the part is back (as "try again in a minute" says), then
    sends the step again."""

    user: dict[str, Any]
    tg: FakeTelegram
    mended: asyncio.Event
    busy: int = 0
    unanswered: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.user["id"])

    async def step(self, text: str, wanted: Callable[[ChatMessage], bool]) -> ChatMessage:
        while True:
            mark = self.tg.mark()
            self.tg.send_text(self.user, text)
            try:
                answer = await self.tg.wait_message(
                    self.id, lambda m: wanted(m) or _busy(m), after=mark, timeout=60
                )
            except AssertionError:
                self.unanswered.append(text)
                raise
            if wanted(answer):
                return answer
            self.busy += 1
            await self.mended.wait()

    async def confirm(self, card: ChatMessage) -> ChatMessage:
        label = "Confirm"
        while True:
            answers = set(self.tg.callback_answers)
            self.tg.press_button(self.user, card, label)
            try:
                await self.tg.wait_for(functools.partial(self._confirmed, card, answers), 90)
            except AssertionError:
                self.unanswered.append("Confirm")
                raise
            now = _the(self.tg, self.id, card)
            if now.text.startswith("✅"):
                return now
            self.busy += 1
            label = "Try again" if "not confirmed yet" in now.text else "Confirm"
            await self.mended.wait()
            card = _the(self.tg, self.id, card)
            if card.text.startswith("✅"):
                return card  # the press that was refused landed after all (its rerun)

    def _confirmed(self, card: ChatMessage, answers: set[str]) -> bool:
        """The card shows ✅, or says its confirm was not recorded; or the press was answered
        "temporarily unavailable"."""
        now = _the(self.tg, self.id, card)
        return (
            now.text.startswith("✅")
            or "not confirmed yet" in now.text
            or _alerted(self.tg, answers)
        )

    async def top_up(self, login: str, amount: str) -> ChatMessage:
        await self.step("/cashin", lambda m: "login" in m.text and "Enter" in m.text)
        await self.step(login, lambda m: "amount" in m.text and bool(m.buttons))
        card = await self.step(amount, lambda m: "Check and confirm" in m.text)
        return await self.confirm(card)


def _busy(message: ChatMessage) -> bool:
    return any(words in message.text for words in BUSY)


def _alerted(tg: FakeTelegram, before: set[str]) -> bool:
    return any(
        "Temporarily unavailable" in str(a.get("text"))
        for q, a in tg.callback_answers.items()
        if q not in before
    )


def _the(tg: FakeTelegram, chat_id: int, card: ChatMessage) -> ChatMessage:
    return next(m for m in tg.messages(chat_id) if m.message_id == card.message_id)


@contextlib.asynccontextmanager
async def proxied(url: str) -> AsyncIterator[tuple[str, CutProxy]]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    proxy = CutProxy(parts.hostname, parts.port)
    await proxy.start()
    try:
        yield proxy.url(url), proxy
    finally:
        await proxy.close()


async def _health(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, await answer.json()


async def _rush_with_a_cut(
    h: Harness,
    proxy: CutProxy,
    mode: str,
    *,
    down: Callable[[int, dict[str, Any]], bool],
    caplog: pytest.LogCaptureFixture,
    part: str,
) -> list[Person]:
    """Top-ups by every cashier; the part cut ``mode`` for CUT seconds once half are done."""
    runner = await start_web(h.app, "127.0.0.1", 0)
    healthz = f"http://127.0.0.1:{runner.addresses[0][1]}/healthz"
    caplog.set_level(logging.INFO)
    people = [Person(h.user(cashier), h.tg, proxy.mended) for cashier in CASHIERS]
    done: list[ChatMessage] = []
    seen_down: list[dict[str, Any]] = []

    async def work(index: int, person: Person) -> None:
        for n in range(EACH):
            login = ("77000000001", "77000000002")[(index + n) % 2]  # ⏳ then ✅; ✅ at once
            done.append(await person.top_up(login, str(1000 + index * 10 + n)))

    async def cut() -> None:
        await h.tg.wait_for(lambda: len(done) >= len(CASHIERS) // 2, timeout=120)
        caplog.clear()
        await proxy.cut(mode)
        cut_at = time.monotonic()
        while time.monotonic() - cut_at < CUT:  # /healthz asked while the part is away
            status, body = await _health(healthz)
            if down(status, body):
                seen_down.append(body)
            await asyncio.sleep(1.0)
        await proxy.mend()
        back = time.monotonic()
        async with asyncio.timeout(5):  # healthy again within 5 s of the return, by itself
            while (await _health(healthz))[0] != 200:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        assert time.monotonic() - back < 5

    try:
        await asyncio.gather(cut(), *(work(i, p) for i, p in enumerate(people)))
    finally:
        await runner.cleanup()
    assert seen_down, f"/healthz never said {part} was down"
    # One line when it went, one when it came back (not one per update or per pass).
    went = [r for r in caplog.records if r.getMessage().startswith(f"{part} is unavailable")]
    back = [r for r in caplog.records if r.getMessage().startswith(f"{part} is back")]
    assert (len(went), len(back)) == (1, 1), [r.getMessage() for r in went + back]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    loud = [r.getMessage()[:120] for r in caplog.records if r.levelno >= logging.WARNING]
    # Not one per update or per pass: no warning said twice (the part's pair above; for
    # Redis the pacer's own pair, its budget going local and back).
    assert not [line for line, n in Counter(loud).items() if n > 1], loud
    return people


async def _nothing_lost_or_doubled(h: Harness, people: list[Person]) -> None:
    assert all(not p.unanswered for p in people), [p.unanswered for p in people]
    payments, total = await h.journal.payments_page(None, 0, 1000)
    assert total == len(CASHIERS) * EACH  # one payment per top-up
    assert {p.status for p in payments} == {Status.COMPLETED}
    ledger = await h.sandbox_ledger()
    assert sorted(r.guid for r in ledger) == sorted(p.guid for p in payments)
    assert {r.status.value for r in ledger} == {"COMPLETED"}  # ✅ only where Allpay said so
    for loop in h.app.loops:
        assert loop.alive and loop.failing_since is None, loop.name


@pytest.mark.parametrize("mode", ["refuse", "stall"])
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_away_for_15_s_mid_rush(
    controlled: Any, database_url: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        proxied(database_url) as (url, proxy),
        controlled(
            database_url=url, cashier_ids=CASHIERS, pending_retry_min=0.5, pending_retry_max=1.0
        ) as h,
    ):
        people = await _rush_with_a_cut(
            h,
            proxy,
            mode,
            down=lambda status, body: status == 503 and not body["database"]["writable"],
            caplog=caplog,
            part="journal",
        )
        await _nothing_lost_or_doubled(h, people)


@pytest.mark.parametrize("mode", ["refuse", "stall"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_redis_away_for_15_s_mid_rush(
    controlled: Any, redis_prefix: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        proxied(REDIS_URL) as (url, proxy),
        controlled(
            redis_url=url,
            redis_prefix=redis_prefix,
            cashier_ids=CASHIERS,
            pending_retry_min=0.5,
            pending_retry_max=1.0,
        ) as h,
    ):
        people = await _rush_with_a_cut(
            h,
            proxy,
            mode,
            down=lambda status, body: status == 503 and not body["redis"]["reachable"],
            caplog=caplog,
            part="redis",
        )
        await _nothing_lost_or_doubled(h, people)


@pytest.mark.parametrize("mode", ["refuse", "stall"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_allpay_away_for_15_s_mid_rush(
    controlled: Any, sandbox: RunningSandbox, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    keys = sandbox.keys
    async with (
        proxied(sandbox.url) as (url, proxy),
        controlled(
            allpay_sandbox=None,
            allpay_url=url,
            allpay_requester="agent-parts",
            allpay_certificate_number=keys.certificate_number,
            allpay_private_key=keys.agent_private,
            allpay_public_key=keys.allpay_public,
            allpay_timeout=2.0,
            cashier_ids=CASHIERS,
            pending_retry_min=0.5,
            pending_retry_max=1.0,
            **PARTIES,
        ) as h,
    ):
        h.external_sandbox = sandbox
        people = await _rush_with_a_cut(
            h,
            proxy,
            mode,
            # Allpay away is reported, and is no reason to restart the bot: 200.
            down=lambda status, body: status == 200 and "allpay" in body,
            caplog=caplog,
            part="Allpay",
        )
        await _nothing_lost_or_doubled(h, people)
        if mode == "refuse":
            # Never sent twice at once by the bot. (A stalled network delivers the requests it
            # held once it heals, beside their resends: Allpay's one-answer-per-GUID is for
            # that; the ledger above holds one row per GUID.)
            assert sum(sandbox.sandbox.stats.overlaps.values()) == 0
