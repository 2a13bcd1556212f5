"""Table 1: what one update costs — a bare aiogram echo bot vs the cash-in conversation.

Both go through the same Bot API pacing layer (it sits in the real bot's path). Trips to the
database thread are counted where every one of them passes: aiosqlite's ``_execute``.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite.core
from aiogram import Dispatcher, Router
from aiogram.types import Message, Update

from bench.common import TOKEN, recording_bot, table
from bot.allpay.answers import CheckResult, ClientInfo, ResponseHeader
from bot.config.settings import Settings
from bot.store.payments import Payments
from bot.telegram.cashin.callbacks import DraftAction, DraftCb
from bot.telegram.runtime.pacing import Budget, Pacer
from bot.wiring.app import build_app

USERS = 50
#: The pacing layer's code runs on both sides; its budget never makes either wait here (the
#: recording session answers at once, and what is measured is the cost of handling).
UNTHROTTLED = Budget(1e9, 1e9, 1e9, 1e9, 1e9, 1e9)


class Hops:
    """Counts trips from the event loop to aiosqlite's thread, whoever makes them."""

    def __init__(self) -> None:
        self.count = 0
        self._original: Any = None

    def __enter__(self) -> Hops:
        original = self._original = aiosqlite.core.Connection._execute
        hops = self

        async def counted(conn: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            hops.count += 1
            return await original(conn, fn, *args, **kwargs)

        aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        aiosqlite.core.Connection._execute = self._original  # type: ignore[method-assign]


class InstantAllpay:
    """No Allpay: the conversation's FSM, SQLite storage and journal are what is measured."""

    requester = "bench"
    tm_url = None
    last_success = None

    async def check_user(self, login: str, lang: str) -> CheckResult:
        header = ResponseHeader("ok", "bench", 0, datetime.now(UTC))
        return CheckResult(header, ClientInfo(True, None, "Айгерім", "Нұрланова"))

    async def close(self) -> None:
        return None


def _message(update_id: int, user_id: int, text: str) -> Update:
    payload: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "C", "language_code": "ru"},
        "text": text,
    }
    if text.startswith("/"):
        payload["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return Update.model_validate({"update_id": update_id, "message": payload})


def conversation_stream(conversations: int, first_user: int = 1000) -> list[Update]:
    """/cashin → login → amount → /cancel, by USERS cashiers in turn."""
    updates: list[Update] = []
    for n in range(conversations):
        user = first_user + n % USERS
        for text in ("/cashin", "+7 700 000 00 02", "5000", "/cancel"):
            updates.append(_message(len(updates) + 1, user, text))
    return updates


def settings_for(folder: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "database_url": f"sqlite:///{folder / 'bench.sqlite3'}",
        "cashier_ids": list(range(1000, 1000 + USERS)),
        "web_enabled": False,
        "digest_time": None,
        **extra,
    }
    if values.get("allpay_url") is None:  # the embedded sandbox, asked for by name
        values.setdefault("allpay_sandbox", True)
    return Settings(_env_file=None, **values)


async def _echo_seconds(updates: list[Update]) -> float:
    bot, _session = recording_bot()
    bot.session.middleware(Pacer(UNTHROTTLED))  # as in the real bot's path
    router = Router()

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    for update in updates[:40]:  # warm-up
        await dispatcher.feed_update(bot, update)
    started = time.perf_counter()
    for update in updates:
        await dispatcher.feed_update(bot, update)
    return time.perf_counter() - started


async def _bot_seconds(updates: list[Update], folder: Path) -> tuple[float, int]:
    """Seconds for ``updates``, and the database trips they made."""
    bot, _session = recording_bot()
    async with build_app(settings_for(folder), bot=bot) as app:
        app.pacer.budget = UNTHROTTLED
        app.cashin.directory = InstantAllpay()
        for update in conversation_stream(10, first_user=1000):  # warm-up
            await app.dispatcher.feed_update(bot, update)
        with Hops() as hops:
            started = time.perf_counter()
            for update in updates:
                await app.dispatcher.feed_update(bot, update)
            return time.perf_counter() - started, hops.count


async def _intake_seconds(updates: list[Update], folder: Path) -> tuple[float, int]:
    """The same updates as they really arrive (``Intake.accept``: kept in the journal
    before Telegram is told, handled, marked done in batches): seconds and trips."""
    bot, _session = recording_bot()
    async with build_app(settings_for(folder), bot=bot) as app:
        app.pacer.budget = UNTHROTTLED
        app.cashin.directory = InstantAllpay()
        for update in conversation_stream(10, first_user=1000):  # warm-up
            await app.intake.accept([update])
            await app.intake.wait_idle(30)
        with Hops() as hops:
            started = time.perf_counter()
            for update in updates:
                await app.intake.accept([update])  # what the webhook's 200 waits for
                await app.intake.wait_idle(30)  # one after another, as (b)
            elapsed = time.perf_counter() - started
            await app.intake.drain(30)  # the last done-marks
            return elapsed, hops.count


async def full_flow_per_payment(
    sandbox_url: str, keys: Path, payments: int
) -> tuple[float, float, float]:
    """The whole conversation with the confirm tap, journal writes and the signed pay call."""
    bot, _session = recording_bot()
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(
            Path(tmp),
            allpay_url=sandbox_url,
            issuer_name="Allpay (bench)",
            issuer_bin="111111111111",
            agent_name="Agent (bench)",
            agent_bin="222222222222",
            allpay_requester="bench-agent",
            allpay_certificate_number="SANDBOX-0001",
            allpay_private_key=keys / "agent.key.pem",
            allpay_public_key=keys / "allpay.pub.pem",
        )
        async with build_app(settings, bot=bot) as app:
            app.pacer.budget = UNTHROTTLED
            hops = Hops().__enter__()
            started, cpu = time.perf_counter(), time.process_time()
            update_id = 0
            for n in range(payments):
                user = 1000 + n % USERS
                for text in ("/cashin", "+7 700 000 00 02", "5000"):
                    update_id += 1
                    await app.dispatcher.feed_update(bot, _message(update_id, user, text))
                [row] = await app.db.query(
                    "SELECT id, card_message_id FROM drafts "
                    "WHERE cashier_id = ? AND state = 'OPEN'",
                    (user,),
                )
                update_id += 1
                data = DraftCb(action=DraftAction.CONFIRM, draft_id=row[0]).pack()
                card = _message(row[1], user, "card").message
                assert card is not None
                # The card carries the button pressed (the bot checks it is still there).
                shown = card.model_dump(by_alias=True, exclude_none=True)
                shown["reply_markup"] = {
                    "inline_keyboard": [[{"text": "Confirm", "callback_data": data}]]
                }
                tap = Update.model_validate(
                    {
                        "update_id": update_id,
                        "callback_query": {
                            "id": str(update_id),
                            "from": {"id": user, "is_bot": False, "first_name": "C"},
                            "chat_instance": "1",
                            "data": data,
                            # pressed on the card itself (the bot checks it is its card)
                            "message": shown,
                        },
                    }
                )
                await app.dispatcher.feed_update(bot, tap)
                await app.sender.drain(30)  # the pay call and its journal write
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            hops.__exit__()
            final = await app.db.read(Payments.status_counts)
            assert sum(final.values()) == payments, final
        # The look-up of each card's draft above is the benchmark's, not the bot's.
        return elapsed / payments, cpu / payments, (hops.count - payments) / payments


async def run(conversations: int, sandbox_url: str, keys: Path, payments: int) -> str:
    updates = conversation_stream(conversations)
    with tempfile.TemporaryDirectory() as tmp:
        echo = await _echo_seconds(updates)
        ours, hops = await _bot_seconds(updates, Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        kept, kept_hops = await _intake_seconds(updates, Path(tmp))
    per_payment, cpu, payment_hops = await full_flow_per_payment(sandbox_url, keys, payments)
    count = len(updates)
    rows = [
        ["(a) bare aiogram echo, paced", f"{echo / count * 1e6:.0f} µs", "1.00", "0", ""],
        [
            "(b) cash-in conversation step (FSM + SQLite, no Allpay)",
            f"{ours / count * 1e6:.0f} µs",
            f"{ours / echo:.2f}",
            f"{hops / count:.2f}",
            "≤ 3",
        ],
        [
            "(c) the same, kept before the 200 and marked done (Intake)",
            f"{kept / count * 1e6:.0f} µs",
            f"{kept / echo:.2f}",
            f"{kept_hops / count:.2f} (+{(kept_hops - hops) / count:.2f})",
            "≤ (b) + 1",
        ],
        [
            "full top-up with journal + signed pay, per payment: wall / CPU",
            f"{per_payment * 1e3:.1f} ms / {cpu * 1e3:.1f} ms",
            "",
            f"{payment_hops:.1f}",
            "",
        ],
    ]
    return table(
        f"1. Update cost ({count} updates, Dispatcher.feed_update, recording session)",
        ["what", "per update", "ratio to (a)", "database trips", "goal"],
        rows,
    )
