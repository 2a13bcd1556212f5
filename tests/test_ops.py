"""Operating the bot: /healthz, /metrics, webhook mode, SIGTERM and logs that leak nothing."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config.settings import ConfigError
from bot.devtools.sandbox import SCRIPT, RunningSandbox
from bot.devtools.telegram import FakeTelegram, Fault
from bot.infra.logs import setup_logging
from bot.usecases.singleton import Singleton
from bot.wiring.serving import run_bot
from bot.wiring.web import start_web
from tests.childstart import spawn
from tests.fixtures import Connect
from tests.harness import (
    CASHIER,
    PARTIES_ENV,
    TOKEN,
    Harness,
    child_env,
    free_port,
    holding,
    wait_for_locks,
)

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-token_for-webhooks"


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def wait_status(url: str, status: int, timeout: float = 10.0) -> dict[str, Any]:
    """Poll /healthz until it answers ``status`` (the loops notice changes within a pass)."""
    async with asyncio.timeout(timeout):
        while True:
            code, body = await get(url)
            if code == status:
                return dict(json.loads(body))
            await asyncio.sleep(0.05)


# ---------------------------------------------------------------- /healthz and /metrics


async def test_healthz_flips_with_the_resolver_and_the_database(harness: Harness) -> None:
    runner = await start_web(harness.app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/healthz"
    try:
        body = await wait_status(url, 200)
        assert body["status"] == "ok" and body["database"] == {"writable": True}
        assert body["resolver"]["alive"] and body["resolver"]["last_run"]
        assert "last_success" in body["allpay"]

        # The resolver's task ends from outside: it is started again, and stays healthy.
        resolver = harness.app.resolver
        killed = resolver.task
        assert killed is not None
        killed.cancel()
        await asyncio.wait({killed})  # its end is seen first: the loop is started again
        assert resolver.task is not killed and resolver.alive
        assert resolver.restarts == 1
        await wait_status(url, 200)
        # One that cannot be kept running (stopped for good): 503.
        await resolver.stop()
        body = await wait_status(url, 503)
        assert body["status"] == "unhealthy" and body["resolver"]["alive"] is False
        resolver.start()
        await wait_status(url, 200)

        # Another process holds the database: not writable, 503; released: 200.
        await wait_for_locks(harness.app.db, 0.2)
        async with holding(harness.app.settings.database_url):
            body = await wait_status(url, 503)
            assert body["database"] == {"writable": False}
        await wait_status(url, 200)
    finally:
        await runner.cleanup()


async def test_metrics_parse_and_count_payments_calls_and_429s(harness: Harness) -> None:
    runner = await start_web(harness.app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/metrics"
    try:
        user = harness.user()
        card = await harness.top_up_card(user, "77000000002", "3000")
        harness.tg.faults.append(
            Fault("editMessageText", 429, "Too Many Requests: retry after 1", retry_after=1)
        )
        await harness.press(user, card, "Confirm")
        await harness.wait_status(CASHIER, card.message_id, "✅")
        code, text = await get(url)
    finally:
        await runner.cleanup()
    assert code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("cashin_payments", (("status", "COMPLETED"),))] == 1
    assert samples[("cashin_pending_payments", ())] == 0
    assert samples[("cashin_pending_oldest_age_seconds", ())] == 0
    pay_calls = samples[
        ("allpay_call_duration_seconds_count", (("operation", "createCashInPayment"),))
    ]
    assert pay_calls >= 1
    assert samples[("telegram_retry_after_total", ())] >= 1
    assert (
        "allpay_call_errors_total",
        (("kind", "timeout"), ("operation", "createCashInPayment")),
    ) not in samples


# ---------------------------------------------------------------- webhook mode


async def test_webhook_needs_the_secret_and_then_handles_updates(
    controlled: Any, telegram: FakeTelegram
) -> None:
    port, status_port = free_port(), free_port()
    settings = controlled.settings(
        webhook_url="https://bot.example.kz/tg/hook-path",
        webhook_secret=SECRET,
        web_port=port,
        metrics_port=status_port,
    )
    stop = asyncio.Event()
    bot = asyncio.create_task(run_bot(settings, stop=stop))
    try:
        await telegram.wait_for(lambda: telegram.webhook is not None or bot.done())
        assert telegram.webhook is not None
        assert telegram.webhook["url"] == "https://bot.example.kz/tg/hook-path"
        assert telegram.webhook["secret_token"] == SECRET
        hook = f"http://127.0.0.1:{port}/tg/hook-path"
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": CASHIER, "type": "private"},
                "from": FakeTelegram.user(CASHIER, "Cashier", "en"),
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret-000000"}):
                async with session.post(hook, json=update, headers=headers) as response:
                    assert response.status == 401
            assert telegram.messages(CASHIER) == []  # no handler ran
            async with session.post(
                hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            ) as response:
                assert response.status == 200
        greeting = await telegram.wait_message(CASHIER)
        assert greeting.text.startswith("Hello")
        assert not any(m == "getUpdates" for m, _ in telegram.calls)  # no polling at all
        # /healthz lives on its own listener in webhook mode, not on the public port.
        status, _body = await get(f"http://127.0.0.1:{status_port}/healthz")
        assert status == 200
        status, _body = await get(f"http://127.0.0.1:{port}/healthz")
        assert status == 404
    finally:
        stop.set()
        assert await asyncio.wait_for(bot, 15) == 0


# ---------------------------------------------------------------- SIGTERM


async def test_sigterm_during_a_pending_payment_exits_0_and_it_resumes(
    tmp_path: Path,
    sandbox: RunningSandbox,
    telegram: FakeTelegram,
    database_url: str,
    connect: Connect,
) -> None:
    sandbox.sandbox.slow_delay = 60.0  # the first pay answer does not come in time
    keys = sandbox.keys
    env = {
        **child_env(),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.base_url,
        "ALLPAY_URL": sandbox.url,
        **PARTIES_ENV,
        "ALLPAY_REQUESTER": "agent-term",
        "ALLPAY_CERTIFICATE_NUMBER": keys.certificate_number,
        "ALLPAY_PRIVATE_KEY": str(keys.agent_private),
        "ALLPAY_PUBLIC_KEY": str(keys.allpay_public),
        "ALLPAY_TIMEOUT": "30",
        "PENDING_RETRY_MIN": "0.2",
        "PENDING_RETRY_MAX": "0.5",
        "DATABASE_URL": database_url,
        "CASHIER_IDS": str(CASHIER),
        "DEFAULT_LANGUAGE": "en",
        "WEB_PORT": str(free_port()),
    }

    async def start_bot() -> spawn.Child:
        with open(tmp_path / "bot.log", "ab") as log:
            return await spawn.start([], env=env, cwd=tmp_path, stdout=spawn.DEVNULL, stderr=log)

    user = FakeTelegram.user(CASHIER, "Cashier", "en")
    bot = await start_bot()
    try:
        telegram.send_text(user, "/cashin")
        await telegram.wait_message(CASHIER, lambda m: "login" in m.text, timeout=30)
        telegram.send_text(user, "77000000004")
        await telegram.wait_message(CASHIER, lambda m: "amount" in m.text)
        mark = telegram.mark()
        telegram.send_text(user, "1000")
        card = await telegram.wait_message(CASHIER, lambda m: bool(m.buttons), after=mark)
        telegram.press_button(user, card, "Confirm")
        await sandbox.sandbox.wait_for(lambda s: sum(s.pay_guids.values()) == 1)
        started = time.monotonic()
        bot.send_signal(signal.SIGTERM)  # the pay request is in flight
        assert await asyncio.wait_for(bot.wait(), 10) == 0
        assert time.monotonic() - started < 10
        db = await connect()
        [(guid, status)] = [
            tuple(row) for row in await db.query("SELECT guid, status FROM payments")
        ]
        await db.close()
        assert status in ("NEW", "PENDING")

        sandbox.sandbox.slow_delay = 0.0
        bot = await start_bot()
        done = await telegram.wait_message(CASHIER, lambda m: m.text.startswith("✅"), timeout=30)
        assert guid in done.text
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    log = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in log
    assert [r.guid for r in await sandbox.sandbox.ledger.all()] == [guid]


# ---------------------------------------------------------------- logs


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()
    setup_logging("DEBUG", "json", stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


async def test_logs_of_a_full_flow_leak_no_iin_login_token_or_key(
    controlled: Any, captured_logs: io.StringIO, tmp_path: Path
) -> None:
    async with controlled(log_level="DEBUG") as h:
        user = h.user()
        card = await h.top_up_card(user, "+7 700 000 00 01", "2500")
        await h.press(user, card, "Confirm")
        await h.wait_status(CASHIER, card.message_id, "✅")
        await h.say(user, "/history")
    text = captured_logs.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line["level"] == "DEBUG" for line in lines)  # DEBUG really was on
    iin = SCRIPT["77000000001"].iin
    assert iin and iin not in text
    assert "77000000001" not in text and "7700***0001" in text
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    key_files = [p for p in (tmp_path / "sandbox").glob("*.pem") if "PRIVATE" in p.read_text()]
    assert key_files
    for path in key_files:
        body = [ln for ln in path.read_text().splitlines() if not ln.startswith("-----")]
        assert not any(chunk in text for chunk in body)
    assert any("guid" in line and "cashier_id" in line for line in lines)
    assert any("update_id" in line and line.get("cashier_id") == CASHIER for line in lines)


async def test_a_second_instance_polling_the_same_journal_is_refused_in_one_line(
    controlled: Any, telegram: FakeTelegram, connect: Connect
) -> None:
    """Telegram allows one getUpdates consumer per bot: a second process on the same journal
    is refused at start with the one line that says what to do; once the first has stopped
    (and let go), another may poll."""
    first = controlled.settings(instance_name="one", web_enabled=False)
    second = controlled.settings(instance_name="two", web_enabled=False)
    stop = asyncio.Event()
    polling = asyncio.create_task(run_bot(first, stop=stop))
    try:
        await telegram.wait_for(lambda: any(m == "getUpdates" for m, _ in telegram.calls))
        with pytest.raises(ConfigError) as refused:
            await run_bot(second, stop=asyncio.Event())
        line = str(refused.value)
        assert "\n" not in line
        assert "instance one:" in line and "is already polling Telegram" in line
        assert "WEBHOOK_URL" in line
        assert not polling.done()  # the first goes on
    finally:
        stop.set()
        assert await asyncio.wait_for(polling, 30) == 0
    assert await Singleton(await connect(), "polling", "two").take() is None  # it was let go
