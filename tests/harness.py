"""The real bot, in-process, against the Telegram stand-in and the embedded sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
import psycopg

from bot.allpay.answers import PayResult, ResponseHeader
from bot.allpay.protocol import PayStatus
from bot.config.settings import Settings
from bot.devtools.sandbox import Sandbox
from bot.devtools.telegram import ChatMessage, FakeTelegram, parse_html
from bot.domain.clock import utcnow
from bot.domain.model import Payment
from bot.infra.redaction import is_postgres_url
from bot.store.db import Database, Tx, ts
from bot.store.postgres import WRITERS_LOCK
from bot.telegram.runtime.pacing import Budget
from bot.wiring.app import build_app
from bot.wiring.running import App
from tests.childstart.spawn import child_env as child_env  # the children's environment
from tests.journal import Journal

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
ADMIN = 100
CASHIER = 200
CASHIER_2 = 201
SUPERVISOR = 300
SUPERVISOR_CHAT = -1000500
STRANGER = 999


#: Who receipts name: required with a real Allpay (``ALLPAY_URL``); test values.
PARTIES: dict[str, str] = {
    "issuer_name": "АО «Эмитент Тест»",
    "issuer_bin": "111111111111",
    "agent_name": "ТОО «Агент Тест»",
    "agent_bin": "222222222222",
}
PARTIES_ENV = {name.upper(): value for name, value in PARTIES.items()}


#: Latin words a ru/kk screen may show: names of things (and ₸, commands, GUIDs, digits).
LATIN_ALLOWED = frozenset({"GUID", "Allpay", "Telegram", "ID", "CSV", "XLSX", "Excel", "PDF", "QR"})


def english_words(text: str) -> list[str]:
    """Latin words in what a person reads (tags gone) outside :data:`LATIN_ALLOWED`: commands,
    GUIDs, identifiers in <code>, setting names, hex digits ("a-f") and anything with a
    digit are not words."""
    plain = parse_html(re.sub(r"<code>.*?</code>", " ", text))  # identifiers: ids, GUIDs
    plain = re.sub(
        r"/[a-z_]+|\ba-f\b|\{[0-9a-fA-F-]+\}|\b\w*\d\w*\b|\b[A-Z]+_[A-Z_]+\b", " ", plain
    )
    return [w for w in re.findall(r"[A-Za-z]+", plain) if w not in LATIN_ALLOWED]


def _has_button(prefix: str) -> Callable[[ChatMessage], bool]:
    """A message with a button whose callback data starts with ``prefix``."""
    return lambda m: any(data.startswith(prefix) for _label, data in m.callback_buttons)


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG (white pixels), made with the standard library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def free_port() -> int:
    """A port nobody listens on now (for a server the test starts, or one that must fail)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(tmp_path: Path, telegram_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "telegram_api_url": telegram_url,
        "database_url": f"sqlite:///{tmp_path / 'cashin.sqlite3'}",
        "admin_ids": [ADMIN],
        "supervisor_ids": [SUPERVISOR],
        "cashier_ids": [CASHIER, CASHIER_2],
        "supervisor_chat_ids": [SUPERVISOR_CHAT],
        "pending_retry_min": 0.05,
        "pending_retry_max": 0.2,
        # Above a busy 2-core machine's slowest sandbox answer under coverage (0.5 s was not).
        "allpay_timeout": 1.5,
        "default_language": "en",
        # A digest at 21:00 Almaty would land in the middle of tests run in the evening.
        "digest_time": "off",
    }
    values.update(overrides)
    if values.get("allpay_url") is None:
        # The embedded sandbox, asked for by name: some tests run it with production's
        # signs (PostgreSQL, an issuer and agent), which refuse a sandbox not asked for.
        values.setdefault("allpay_sandbox", True)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def holding(database_url: str) -> AsyncIterator[None]:
    """Another process holds the journal's write lock meanwhile (SQLite's file lock, or the
    writers' advisory lock on PostgreSQL)."""
    if is_postgres_url(database_url):
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as pg:
            cursor = await pg.execute(WRITERS_LOCK)
            key = (await cursor.fetchone() or (0,))[0]
            await pg.execute("SELECT pg_advisory_lock(%s)", (key,))
            yield
            await pg.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return
    async with aiosqlite.connect(database_url.removeprefix("sqlite:///")) as other:
        await other.execute("BEGIN EXCLUSIVE")
        yield
        await other.rollback()


async def wait_for_locks(db: Database, seconds: float) -> None:
    """How long ``db``'s transactions wait for another process's before they fail (its
    session's setting: SQLite's busy timeout, PostgreSQL's lock_timeout; the bot's own is
    ``LOCK_WAIT_MS``)."""
    milliseconds = int(seconds * 1000)
    setting = (
        f"SET lock_timeout = {milliseconds}"
        if db.kind == "postgresql"
        else f"PRAGMA busy_timeout = {milliseconds}"
    )
    await db.write(lambda tx: tx.run(setting))


@dataclass
class Harness:
    app: App
    tg: FakeTelegram
    polling: asyncio.Task[None] | None = None
    #: A sandbox the test runs itself (the bot reaches it at ALLPAY_URL), else the embedded.
    external_sandbox: Any = None

    async def stop_polling(self) -> None:
        """Take no more updates (as a process being stopped)."""
        if self.polling is not None:
            self.polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.polling

    @property
    def journal(self) -> Journal:
        """The test's view of the bot's journal."""
        return Journal(self.app.db, self.app.settings.supervisor_chat_ids)

    @property
    def sandbox(self) -> Sandbox:
        if self.external_sandbox is not None:
            sandbox: Sandbox = self.external_sandbox.sandbox
            return sandbox
        assert self.app.sandbox is not None
        return self.app.sandbox.sandbox

    async def sandbox_ledger(self) -> list[Any]:
        return list(await self.sandbox.ledger.all())

    def user(self, user_id: int = CASHIER, language_code: str | None = "en") -> dict[str, Any]:
        return FakeTelegram.user(user_id, f"User{user_id}", language_code)

    async def say(self, user: dict[str, Any], text: str, *, timeout: float = 10.0) -> ChatMessage:
        """Send text as ``user`` and return the bot's next message in that chat."""
        mark = self.tg.mark()
        self.tg.send_text(user, text)
        return await self.tg.wait_message(user["id"], after=mark, timeout=timeout)

    async def chart_after(self, report: ChatMessage, *, timeout: float = 10.0) -> ChatMessage:
        """The day's chart sent after ``report`` in its chat (without the desk, /report's
        text is followed by a picture): wait for it before saying more there."""
        return await self.tg.wait_message(
            report.chat_id, lambda m: m.photo is not None, after=report.message_id, timeout=timeout
        )

    async def press(self, user: dict[str, Any], message: ChatMessage, label: str) -> None:
        """Press a button and wait until the bot has answered that callback query."""
        before = len(self.tg.callback_answers)
        self.tg.press_button(user, message, label)
        await self.tg.wait_for(lambda: len(self.tg.callback_answers) > before)

    async def top_up_card(self, user: dict[str, Any], login: str, amount: str) -> ChatMessage:
        """Drive /cashin → login → amount; return the confirmation card."""
        await self.say(user, "/cashin")
        mark = self.tg.mark()
        self.tg.send_text(user, login)
        # The amount prompt, in any language: it carries the preset amounts (the login
        # prompt may carry buttons too: the cashier's recent clients).
        await self.tg.wait_message(user["id"], _has_button("a:"), after=mark)
        mark = self.tg.mark()
        self.tg.send_text(user, amount)
        return await self.tg.wait_message(user["id"], _has_button("d:"), after=mark)

    async def pending_top_up(
        self, user: dict[str, Any], amount: str
    ) -> tuple[ChatMessage, ChatMessage]:
        """A confirmed top-up of the sandbox's client 01 whose first answer, ⏳ PENDING, is
        journaled and shown ("processing", not "sending"); (its card, its status message —
        the same message). Keep the resend away (PENDING_RETRY_MIN) to hold it there."""
        card = await self.top_up_card(user, "77000000001", amount)
        await self.press(user, card, "Confirm")
        status = await self.wait_status(user["id"], card.message_id, "⏳")
        await self.tg.wait_for(lambda: "processing" in status.plain)
        return card, status

    async def wait_status(
        self, user_id: int, message_id: int, icon: str, timeout: float = 10.0
    ) -> ChatMessage:
        """Wait until the status message (edited in place, or re-sent) leads with ``icon``."""
        return await self.tg.wait_message(
            user_id,
            lambda m: m.text.startswith(icon) and m.message_id >= message_id,
            after=message_id - 1,
            timeout=timeout,
        )

    def texts_ever(self, chat_id: int) -> list[str]:
        """Every text the bot ever put in a chat: sent or edited."""
        return [
            str(params.get("text", ""))
            for method, params in self.tg.calls
            if method in {"sendMessage", "editMessageText"}
            and str(params.get("chat_id")) == str(chat_id)
        ]


#: Pacing for a stand-in that enforces no limits: a person's flow is not held to one message a
#: second after a burst of 6. A realistic stand-in (Telegram's limits and latency) gets the
#: production budget; tests/test_pacing.py tests the budget itself.
UNLIMITED = Budget(
    bot_rate=1000.0,
    bot_burst=1000.0,
    private_rate=1000.0,
    private_burst=1000.0,
    group_rate=1000.0,
    group_burst=1000.0,
)


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, tg: FakeTelegram, *, budget: Budget | None = None
) -> AsyncIterator[Harness]:
    if budget is None and not tg.realistic:
        budget = UNLIMITED
    async with build_app(settings, budget=budget) as app:
        calls_before = len(tg.calls)
        # The bot's own polling: each batch kept in the journal before it is confirmed.
        polling = asyncio.create_task(app.intake.poll(timeout=1), name="polling")
        await tg.wait_for(lambda: any(m == "getUpdates" for m, _ in tg.calls[calls_before:]))
        try:
            yield Harness(app, tg, polling)
        finally:
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling


async def seed_payment(
    journal: Journal,
    *,
    cashier_id: int = CASHIER,
    login: str = "77000000001",
    amount: str | Decimal = "1000",
    status: PayStatus | None = PayStatus.COMPLETED,
    created_at: datetime | None = None,
    client_name: str = "Иванова Анна",
    notified: bool = True,
) -> Payment:
    """A payment journaled as the bot does (draft → claim → answer), optionally back-dated.

    ``notified``: its messages (the cashier's status, the supervisors' feed) went out long
    ago — they are not delivered again now, in the middle of what a test looks at."""
    draft = await journal.create_draft(
        cashier_id=cashier_id,
        chat_id=cashier_id,
        login=login,
        client_name=client_name,
        identified=True,
        amount=Decimal(amount),
        lang="en",
    )
    payment = await journal.claim_draft(draft.id, cashier_id)
    assert payment is not None
    if status is not None:
        now = utcnow()
        header = ResponseHeader("OK", "test", 0, now)
        await journal.record_attempt(
            payment.guid,
            PayResult(status, header),
            now=now,
            next_attempt_at=now + timedelta(hours=1),
        )
    guid = payment.guid

    def back_date(tx: Tx) -> None:
        if created_at is not None:
            tx.run("UPDATE payments SET created_at = ? WHERE guid = ?", (ts(created_at), guid))
        if notified:
            tx.run(
                "UPDATE outbox SET done_at = ? WHERE guid = ? AND done_at IS NULL",
                (ts(utcnow()), guid),
            )

    await journal.db.write(back_date)
    fresh = await journal.get_payment(payment.guid)
    assert fresh is not None
    return fresh
