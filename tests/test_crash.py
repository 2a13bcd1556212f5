"""SIGKILL the bot at every step of a payment, start it again, and check the invariants.

The bot runs as a real process (``python -m bot``) against the Telegram stand-in and a signed
sandbox in this process. Each crash point is reached by stopping the world from outside —
a Telegram call that hangs, a pay answer that never comes, a database lock — never by hooks
inside the bot. After the restart: the payment reaches its final status, exactly one GUID
was ever sent, the sandbox ledger has one row, the journal agrees with it, and the cashier
sees ✅ only for a payment the sandbox completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.devtools.sandbox import DEFAULT_BALANCE, RunningSandbox
from bot.devtools.telegram import ChatMessage, FakeTelegram
from bot.store.backends import open_database
from tests.childstart import spawn
from tests.harness import CASHIER, PARTIES_ENV, TOKEN, child_env
from tests.harness import holding as holding_journal
from tests.tcpproxy import HoldingProxy

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends

ROOT = Path(__file__).resolve().parents[1]
POINTS = [
    "after_draft",
    "after_journal_commit",
    "during_pay",
    "after_answer_before_journal",
    "during_status_edit",
]


class BotProcess:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.process: spawn.Child | None = None

    async def start(self) -> None:
        with open(self.cwd / "bot.log", "ab") as log:
            self.process = await spawn.start(
                [], env=self.env, cwd=self.cwd, stdout=spawn.DEVNULL, stderr=log
            )

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@pytest.fixture
async def bot_env(
    tmp_path: Path, sandbox: RunningSandbox, telegram: FakeTelegram, database_url: str
) -> AsyncIterator[BotProcess]:
    keys = sandbox.keys
    env = {
        **child_env(),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.base_url,
        "ALLPAY_URL": sandbox.url,
        **PARTIES_ENV,
        "ALLPAY_REQUESTER": "agent-crash",
        "ALLPAY_CERTIFICATE_NUMBER": keys.certificate_number,
        "ALLPAY_PRIVATE_KEY": str(keys.agent_private),
        "ALLPAY_PUBLIC_KEY": str(keys.allpay_public),
        "ALLPAY_TIMEOUT": "30",
        "PENDING_RETRY_MIN": "0.2",
        "PENDING_RETRY_MAX": "0.5",
        "DATABASE_URL": database_url,
        "CASHIER_IDS": str(CASHIER),
        "DEFAULT_LANGUAGE": "en",
        "WEB_ENABLED": "false",
    }
    process = BotProcess(env, tmp_path)
    try:
        yield process
    finally:
        await process.close()


async def _journal(database_url: str) -> list[tuple[str, str]]:
    """The bot's payments as another process reads them now."""
    db = open_database(database_url)
    await db.open()
    try:
        return [(str(r[0]), str(r[1])) for r in await db.query("SELECT guid, status FROM payments")]
    finally:
        await db.close()


async def _journal_reaches(database_url: str, status: str, timeout: float = 30.0) -> None:
    """Poll the bot's journal (another process writes it) until its payment has ``status``."""
    async with asyncio.timeout(timeout):
        while [s for _, s in await _journal(database_url)] != [status]:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def _updates_handled(database_url: str, timeout: float = 30.0) -> None:
    """Until every update the bot took is marked handled (its handler finished)."""
    async with asyncio.timeout(timeout):
        while await _unfinished(database_url):  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def _unfinished(database_url: str) -> int:
    db = open_database(database_url)
    await db.open()
    try:
        rows = await db.query("SELECT COUNT(*) FROM updates WHERE done_at IS NULL")
        return int(rows[0][0])
    finally:
        await db.close()


async def _card(telegram: FakeTelegram, login: str) -> ChatMessage:
    user = FakeTelegram.user(CASHIER, "Cashier", "en")
    telegram.send_text(user, "/cashin")
    await telegram.wait_message(CASHIER, lambda m: "login" in m.text, timeout=30)
    mark = telegram.mark()
    telegram.send_text(user, login)
    await telegram.wait_message(CASHIER, lambda m: "amount" in m.text, after=mark)
    mark = telegram.mark()
    telegram.send_text(user, "1000")
    return await telegram.wait_message(CASHIER, lambda m: bool(m.buttons), after=mark)


@pytest.mark.parametrize("point", POINTS)
async def test_sigkill_at_each_step_then_restart(
    point: str,
    database_url: str,
    sandbox: RunningSandbox,
    telegram: FakeTelegram,
    bot_env: BotProcess,
) -> None:
    fake = sandbox.sandbox
    # 77000000004: Allpay's first answer is slow (longer than any test waits for it).
    login = "77000000004" if point == "during_pay" else "77000000002"
    fake.slow_delay = 120.0
    holding: HoldingProxy | None = None
    if point == "after_journal_commit":
        url = urlsplit(sandbox.url)
        assert url.hostname is not None and url.port is not None
        holding = HoldingProxy(url.hostname, url.port)
        port = await holding.start()
        bot_env.env["ALLPAY_URL"] = sandbox.url.replace(f":{url.port}/", f":{port}/")
    try:
        await _crash_and_restart(point, database_url, sandbox, telegram, bot_env, login, holding)
    finally:
        if holding is not None:
            await holding.close()


async def _crash_and_restart(
    point: str,
    database_url: str,
    sandbox: RunningSandbox,
    telegram: FakeTelegram,
    bot_env: BotProcess,
    login: str,
    holding: HoldingProxy | None,
) -> None:
    user = FakeTelegram.user(CASHIER, "Cashier", "en")
    fake = sandbox.sandbox
    await bot_env.start()
    card = await _card(telegram, login)

    if point == "after_draft":
        await _updates_handled(database_url)  # the card's step has finished: it is recorded
        await bot_env.kill()
        assert await _journal(database_url) == []
        await bot_env.start()
        telegram.press_button(user, card, "Confirm")  # the card outlived the process
    elif point == "after_journal_commit":
        # The pay request leaves the bot right after the commit, but the network keeps it.
        assert holding is not None
        holding.armed.set()
        telegram.press_button(user, card, "Confirm")
        await asyncio.wait_for(holding.holding.wait(), 30)
        await bot_env.kill()
        assert [s for _, s in await _journal(database_url)] == ["NEW"]
        assert sum(fake.stats.pay_guids.values()) == 0  # journaled, never reached Allpay
        holding.armed.clear()
        await bot_env.start()
    elif point == "during_pay":
        telegram.press_button(user, card, "Confirm")
        await fake.wait_for(lambda s: sum(s.pay_guids.values()) == 1)
        await bot_env.kill()
        fake.slow_delay = 0.0
        await bot_env.start()
    elif point == "after_answer_before_journal":
        locked = asyncio.Event()
        lock = contextlib.AsyncExitStack()

        async def hold_the_journal(_guid: str) -> None:
            await lock.enter_async_context(holding_journal(database_url))  # no write gets in
            locked.set()

        fake.after_ledger = hold_the_journal
        telegram.press_button(user, card, "Confirm")
        await asyncio.wait_for(locked.wait(), 30)
        await fake.wait_for(lambda s: sum(s.pay_guids.values()) == 1)
        await asyncio.sleep(0.3)  # the answer is on loopback; earlier is "during_pay", also fine
        await bot_env.kill()
        fake.after_ledger = None
        await lock.aclose()
        assert [s for _, s in await _journal(database_url)] == ["NEW"]  # the answer was never noted
        assert [r.status.value for r in await fake.ledger.all()] == ["COMPLETED"]
        await bot_env.start()
    elif point == "during_status_edit":
        telegram.hold("editMessageText")  # the outbox's status edit hangs
        telegram.press_button(user, card, "Confirm")
        await telegram.wait_for(lambda: any(m == "editMessageText" for m, _ in telegram.calls))
        await _journal_reaches(database_url, "COMPLETED")  # Allpay's answer is noted meanwhile
        await bot_env.kill()
        assert [s for _, s in await _journal(database_url)] == ["COMPLETED"]
        assert not card.text.startswith("✅")
        telegram.release("editMessageText")
        await bot_env.start()

    done = await telegram.wait_message(CASHIER, lambda m: m.text.startswith("✅"), timeout=30)
    [(guid, status)] = await _journal(database_url)
    assert status == "COMPLETED" and guid in done.text
    assert list(fake.stats.pay_guids) == [guid]  # one GUID ever sent, however often
    assert [(r.guid, r.status.value) for r in await fake.ledger.all()] == [(guid, "COMPLETED")]
    balance = await fake.ledger.balance("agent-crash")
    assert balance == DEFAULT_BALANCE - 1000  # debited once


async def test_an_update_whose_handler_was_killed_is_answered_after_the_restart(
    database_url: str, sandbox: RunningSandbox, telegram: FakeTelegram, bot_env: BotProcess
) -> None:
    """Polling: the bot took the cashier's login and was killed while its handler waited for
    Allpay's client check. Telegram was told nothing yet (the next getUpdates would have); the
    update is in the journal, and the restarted bot answers it."""
    url = urlsplit(sandbox.url)
    assert url.hostname is not None and url.port is not None
    holding = HoldingProxy(url.hostname, url.port)
    port = await holding.start()
    bot_env.env["ALLPAY_URL"] = sandbox.url.replace(f":{url.port}/", f":{port}/")
    try:
        user = FakeTelegram.user(CASHIER, "Cashier", "en")
        await bot_env.start()
        telegram.send_text(user, "/cashin")
        await telegram.wait_message(CASHIER, lambda m: "login" in m.text, timeout=30)
        holding.armed.set()  # the client check leaves the bot and is never answered
        mark = telegram.mark()
        telegram.send_text(user, "77000000002")
        await asyncio.wait_for(holding.holding.wait(), 30)  # the handler waits on Allpay
        async with asyncio.timeout(10):  # the login's alone: /cashin's is marked done
            while await _unfinished(database_url) != 1:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await bot_env.kill()
        holding.armed.clear()
        await bot_env.start()
        card = await telegram.wait_message(
            CASHIER, lambda m: "Ахметов" in m.text and "amount" in m.text, after=mark, timeout=30
        )
        assert card.buttons  # the amount presets: the step went on where it stopped
        await _updates_handled(database_url)
    finally:
        await holding.close()


async def test_a_button_press_whose_handler_was_killed_is_answered_after_the_restart(
    database_url: str, sandbox: RunningSandbox, telegram: FakeTelegram, bot_env: BotProcess
) -> None:
    """The same for a button: its rerun answers the press a second time, which Telegram
    refuses — the step goes on all the same (bot/telegram/shared/answers.py)."""
    url = urlsplit(sandbox.url)
    assert url.hostname is not None and url.port is not None
    holding = HoldingProxy(url.hostname, url.port)
    port = await holding.start()
    bot_env.env["ALLPAY_URL"] = sandbox.url.replace(f":{url.port}/", f":{port}/")
    bot_env.env["ALLPAY_TIMEOUT"] = "2"
    try:
        user = FakeTelegram.user(CASHIER, "Cashier", "en")
        await bot_env.start()
        telegram.send_text(user, "/cashin")
        await telegram.wait_message(CASHIER, lambda m: "login" in m.text, timeout=30)
        holding.armed.set()  # Allpay does not answer the client check
        mark = telegram.mark()
        telegram.send_text(user, "77000000002")
        failed = await telegram.wait_message(
            CASHIER, lambda m: "not answering" in m.text, after=mark, timeout=30
        )
        held = holding.held
        answers = len(telegram.callback_answers)
        telegram.press_button(user, failed, "Try again")  # checked again: held again
        await telegram.wait_for(lambda: len(telegram.callback_answers) > answers, timeout=30)
        async with asyncio.timeout(30):
            while holding.held == held:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        await bot_env.kill()  # the press is answered, its step is not
        holding.armed.clear()
        await bot_env.start()
        await telegram.wait_for(lambda: "Ахметов" in failed.text, timeout=30)
        assert "amount" in failed.text and failed.buttons  # the prompt became the client
        await _updates_handled(database_url)
    finally:
        await holding.close()
