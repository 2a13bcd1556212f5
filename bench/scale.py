"""Table 4: many cashiers at once through the Telegram stand-in and the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.common import TOKEN, median, pct, table
from bot.config.settings import Settings
from bot.devtools.telegram import FakeTelegram
from bot.wiring.app import build_app

FIRST = 10_000


def _settings(folder: Path, telegram_url: str, url: str, keys: Path, users: int) -> Settings:
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "telegram_api_url": telegram_url,
        "database_url": f"sqlite:///{folder / 'scale.sqlite3'}",
        "cashier_ids": list(range(FIRST, FIRST + users)),
        "allpay_url": url,
        "issuer_name": "Allpay (bench)",
        "issuer_bin": "111111111111",
        "agent_name": "Agent (bench)",
        "agent_bin": "222222222222",
        "allpay_requester": "bench-agent",
        "allpay_certificate_number": "SANDBOX-0001",
        "allpay_private_key": keys / "agent.key.pem",
        "allpay_public_key": keys / "allpay.pub.pem",
        "allpay_concurrency": 32,
        "web_enabled": False,
        "digest_time": None,
        "default_language": "en",
    }
    return Settings(_env_file=None, **values)


async def _until(tg: FakeTelegram, chat: int, needle: str, after: int) -> None:
    await tg.wait_message(chat, lambda m: needle in m.text, after=after, timeout=120)


async def _open_conversation(tg: FakeTelegram, user_id: int) -> None:
    """/cashin and the login: the cashier is left at the amount step."""
    user = FakeTelegram.user(user_id, "C", "en")
    mark = tg.mark()
    tg.send_text(user, "/cashin")
    await _until(tg, user_id, "login", mark)
    mark = tg.mark()
    tg.send_text(user, "77000000002")
    await _until(tg, user_id, "amount", mark)


async def _cashier(tg: FakeTelegram, user_id: int, times: list[float]) -> None:
    user = FakeTelegram.user(user_id, "C", "en")
    await _open_conversation(tg, user_id)
    mark = tg.mark()
    tg.send_text(user, "5000")
    card = await tg.wait_message(user_id, lambda m: bool(m.buttons), after=mark, timeout=120)
    started = time.perf_counter()
    tg.press_button(user, card, "Confirm")
    await tg.wait_for(lambda: card.text.startswith("✅"), timeout=120)
    times.append(time.perf_counter() - started)


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


async def run(url: str, keys: Path, cashiers: int, conversations: int) -> str:
    tg = FakeTelegram()
    await tg.start()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = _settings(Path(tmp), tg.base_url, url, keys, max(cashiers, conversations))
            async with build_app(settings) as app:
                polling = asyncio.create_task(app.intake.poll(timeout=1), name="polling")
                rss_idle = _rss_mb()
                times: list[float] = []
                started = time.perf_counter()
                await asyncio.gather(*(_cashier(tg, FIRST + i, times) for i in range(cashiers)))
                elapsed = time.perf_counter() - started
                rss_after = _rss_mb()
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                rows.append(
                    [
                        f"{cashiers} cashiers, full top-ups at once",
                        f"{cashiers / elapsed:.1f}/s",
                        f"{median(times) * 1e3:.0f} ms",
                        f"{pct(times, 0.99) * 1e3:.0f} ms",
                        f"{rss_idle:.0f} → {rss_after:.0f} MB (peak {peak:.0f})",
                    ]
                )
                before = _rss_mb()
                await asyncio.gather(
                    *(_open_conversation(tg, FIRST + i) for i in range(conversations))
                )
                rows.append(
                    [
                        f"{conversations} open conversations (waiting for the amount)",
                        "",
                        "",
                        "",
                        f"{before:.0f} → {_rss_mb():.0f} MB",
                    ]
                )
                polling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await polling
    finally:
        await tg.close()
    return table(
        "4. Scale on one machine (bot, Telegram stand-in in one process; sandbox in another)",
        ["load", "payments/s", "confirm→✅ p50", "p99", "RSS (this process)"],
        rows,
    )
