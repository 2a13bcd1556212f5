"""Table 1: what one update costs — a bare aiogram echo bot vs the cash-in conversation."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.types import Message, Update

from bench.common import TOKEN, recording_bot, table
from bot.allpay.protocol import CheckResult, ClientInfo, ResponseHeader
from bot.app import build_app
from bot.config import Settings
from bot.telegram.callbacks import DraftAction, DraftCb

USERS = 50


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
    return Settings(_env_file=None, **values)


async def _echo_seconds(updates: list[Update]) -> float:
    bot, _session = recording_bot()
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


async def _bot_seconds(updates: list[Update], folder: Path) -> float:
    bot, _session = recording_bot()
    async with build_app(settings_for(folder), bot=bot) as app:
        app.dispatcher["allpay"] = InstantAllpay()
        for update in conversation_stream(10, first_user=1000):  # warm-up
            await app.dispatcher.feed_update(bot, update)
        started = time.perf_counter()
        for update in updates:
            await app.dispatcher.feed_update(bot, update)
        return time.perf_counter() - started


async def full_flow_per_payment(sandbox_url: str, keys: Path, payments: int) -> float:
    """The whole conversation with the confirm tap, journal writes and the signed pay call."""
    bot, _session = recording_bot()
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(
            Path(tmp),
            allpay_url=sandbox_url,
            allpay_requester="bench-agent",
            allpay_certificate_number="SANDBOX-0001",
            allpay_private_key=keys / "agent.key.pem",
            allpay_public_key=keys / "allpay.pub.pem",
        )
        async with build_app(settings, bot=bot) as app:
            started = time.perf_counter()
            update_id = 0
            for n in range(payments):
                user = 1000 + n % USERS
                for text in ("/cashin", "+7 700 000 00 02", "5000"):
                    update_id += 1
                    await app.dispatcher.feed_update(bot, _message(update_id, user, text))
                async with (
                    app.db.read() as conn,
                    conn.execute(
                        "SELECT id FROM drafts WHERE cashier_id = ? AND state = 'OPEN'", (user,)
                    ) as cur,
                ):
                    row = await cur.fetchone()
                assert row is not None
                update_id += 1
                data = DraftCb(action=DraftAction.CONFIRM, draft_id=row[0]).pack()
                tap = Update.model_validate(
                    {
                        "update_id": update_id,
                        "callback_query": {
                            "id": str(update_id),
                            "from": {"id": user, "is_bot": False, "first_name": "C"},
                            "chat_instance": "1",
                            "data": data,
                            "message": _message(update_id, user, "card").message.model_dump(),
                        },
                    }
                )
                await app.dispatcher.feed_update(bot, tap)
                await app.service.drain(30)  # the pay call and its journal write
            elapsed = time.perf_counter() - started
            final = await app.journal.status_counts()
            assert sum(final.values()) == payments, final
        return elapsed / payments


async def run(conversations: int, sandbox_url: str, keys: Path, payments: int) -> str:
    updates = conversation_stream(conversations)
    with tempfile.TemporaryDirectory() as tmp:
        echo = await _echo_seconds(updates)
        ours = await _bot_seconds(updates, Path(tmp))
    per_payment = await full_flow_per_payment(sandbox_url, keys, payments)
    count = len(updates)
    rows = [
        ["(a) bare aiogram echo", f"{echo / count * 1e6:.0f} µs", "1.00", ""],
        [
            "(b) cash-in conversation (FSM + SQLite, no Allpay)",
            f"{ours / count * 1e6:.0f} µs",
            f"{ours / echo:.2f}",
            "≤ 1.3",
        ],
        [
            "full top-up with journal + signed pay (per payment)",
            f"{per_payment * 1e3:.1f} ms",
            "",
            "",
        ],
    ]
    return table(
        f"1. Update cost ({count} updates, Dispatcher.feed_update, recording session)",
        ["what", "per update", "ratio to (a)", "goal"],
        rows,
    )
