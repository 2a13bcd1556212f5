"""SIGKILL while a pay request is in flight, then start again: same GUID, final status shown."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiosqlite

from bot.allpay.sandbox import RunningSandbox
from bot.devtools.telegram import FakeTelegram
from tests.harness import CASHIER, TOKEN

ROOT = Path(__file__).resolve().parents[1]


async def _spawn(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=open(cwd / "bot.log", "ab"),
    )


async def test_sigkill_during_pay_then_restart(
    tmp_path: Path, sandbox: RunningSandbox, telegram: FakeTelegram
) -> None:
    """The sandbox runs in this process, playing real Allpay for a bot in another one."""
    outside_sandbox = sandbox
    outside_sandbox.sandbox.slow_delay = 60.0  # the first answer never comes in time
    keys = outside_sandbox.keys
    database = tmp_path / "bot.sqlite3"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.base_url,
        "ALLPAY_URL": outside_sandbox.url,
        "ALLPAY_REQUESTER": "agent-crash",
        "ALLPAY_CERTIFICATE_NUMBER": keys.certificate_number,
        "ALLPAY_PRIVATE_KEY": str(keys.agent_private),
        "ALLPAY_PUBLIC_KEY": str(keys.allpay_public),
        "ALLPAY_TIMEOUT": "30",
        "PENDING_RETRY_MIN": "0.2",
        "PENDING_RETRY_MAX": "0.5",
        "DATABASE_URL": f"sqlite:///{database}",
        "CASHIER_IDS": str(CASHIER),
        "DEFAULT_LANGUAGE": "en",
        "WEB_ENABLED": "false",
    }
    user = FakeTelegram.user(CASHIER, "Cashier", "en")
    bot = await _spawn(env, tmp_path)
    try:
        telegram.send_text(user, "/cashin")
        await telegram.wait_message(CASHIER, lambda m: "login" in m.text, timeout=30)
        telegram.send_text(user, "77000000004")  # Allpay's first answer will not come in time
        await telegram.wait_message(CASHIER, lambda m: "amount" in m.text)
        mark = telegram.mark()
        telegram.send_text(user, "1000")
        card = await telegram.wait_message(CASHIER, lambda m: bool(m.buttons), after=mark)
        telegram.press_button(user, card, "Confirm")
        await outside_sandbox.sandbox.wait_for(lambda s: sum(s.pay_guids.values()) == 1)
        bot.send_signal(signal.SIGKILL)  # the pay request is in flight right now
        await bot.wait()

        async with (
            aiosqlite.connect(database) as db,
            db.execute("SELECT guid, status FROM payments") as cur,
        ):
            rows = await cur.fetchall()
        assert len(rows) == 1 and rows[0][1] in ("NEW", "PENDING")
        guid = rows[0][0]
        assert not card.text.startswith("✅")

        bot = await _spawn(env, tmp_path)
        done = await telegram.wait_message(CASHIER, lambda m: m.text.startswith("✅"), timeout=30)
        assert guid in done.text
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    stats = outside_sandbox.sandbox.stats
    assert list(stats.pay_guids) == [guid] and stats.pay_guids[guid] >= 2
    ledger = await outside_sandbox.sandbox.ledger.all()
    assert [(r.guid, r.status.value) for r in ledger] == [(guid, "COMPLETED")]
    async with (
        aiosqlite.connect(database) as db,
        db.execute("SELECT guid, status FROM payments") as cur,
    ):
        assert await cur.fetchall() == [(guid, "COMPLETED")]
