"""Table 7: start-up and memory of ``python -m bot`` beside an aiogram echo bot started the
same way (``bench/echo_bot.py``: one Dispatcher, one echo handler, long polling).

Each is a process of its own, polling a fresh Bot API stand-in (``FakeTelegram``) on loopback;
the bot runs in polling mode on a fresh SQLite journal, without Redis, against the Allpay
sandbox in another process (``ALLPAY_URL``, as a deployment does: no embedded sandbox), with
/healthz and /metrics on. Measured, alternating the two, ``runs`` times each:

* **start-up**: from just before the process is spawned to the first ``getUpdates`` the
  stand-in sees (the bot's own work before it includes opening and migrating the journal,
  loading the keys, ``getMe``, the command menus and ``deleteWebhook``);
* **RSS idle**: the process's resident memory ``IDLE`` seconds after that ``getUpdates``.

Then, in the last run of the bot, ``top_ups`` whole top-ups (``/cashin``, the login
``77000000002`` which completes at once, an amount, Confirm, until ✅), 50 cashiers at a
time, and its RSS ``SETTLE`` seconds after the last ✅ (and its peak, where Linux says it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import psutil
from tests.cluster import cluster_env
from tests.harness import TOKEN, free_port
from tests.rush import cashier_ids, rush

from bench.common import ROOT, median, table
from bot.devtools.sandbox import ensure_sandbox_keys
from bot.devtools.telegram import FakeTelegram

IDLE = 3.0  # seconds after the first getUpdates before the idle RSS is read
SETTLE = 5.0  # seconds after the last ✅ before the RSS is read
CASHIERS = 50  # top-ups run in rounds of this many cashiers at once
GOAL_RSS = 40.0  # MB over the echo bot's, idle
GOAL_START = 1.3  # × the echo bot's start-up


@dataclass
class Started:
    seconds: float  # spawn → first getUpdates
    rss: float  # MB, idle


def _rss(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def _peak(pid: int) -> float | None:
    """The process's peak RSS in MB (Linux: VmHWM), None elsewhere."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def _echo_env(telegram_url: str, folder: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": str(folder),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram_url,
    }


def _bot_env(telegram_url: str, folder: Path, sandbox_url: str, keys: Path) -> dict[str, str]:
    env = cluster_env(
        folder,
        telegram_url=telegram_url,
        database_url=f"sqlite:///{folder / 'cashin.sqlite3'}",
        allpay_url=sandbox_url,
        keys=ensure_sandbox_keys(keys),
        cashiers=cashier_ids(CASHIERS),
    )
    for webhook in ("WEBHOOK_URL", "WEBHOOK_SECRET"):  # polling, as the echo bot
        env.pop(webhook)
    return env | {
        "INSTANCE_NAME": "bench",
        "WEB_PORT": str(free_port()),
        "ALLPAY_TIMEOUT": "10",
        "PENDING_RETRY_MIN": "2",
        "PENDING_RETRY_MAX": "5",
    }


async def _until_polling(tg: FakeTelegram, process: asyncio.subprocess.Process, log: Path) -> None:
    """Until the stand-in sees the first getUpdates; raises if the process ends first."""

    def polls() -> bool:
        return any(method == "getUpdates" for method, _params in tg.calls)

    polling = asyncio.create_task(tg.wait_for(polls, 180))
    exited = asyncio.create_task(process.wait())
    done, _pending = await asyncio.wait({polling, exited}, return_when=asyncio.FIRST_COMPLETED)
    if polling not in done:
        polling.cancel()
        tail = (await asyncio.to_thread(log.read_text))[-3000:]
        raise RuntimeError(f"exited before polling:\n{tail}")
    exited.cancel()
    await polling


@contextlib.asynccontextmanager
async def _process(
    argv: list[str], env: dict[str, str], folder: Path, tg: FakeTelegram
) -> AsyncIterator[tuple[asyncio.subprocess.Process, float]]:
    """Spawn ``argv``; yield (the process, its start-up in seconds) once it polls."""
    log = folder / "process.log"
    started = time.monotonic()
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=folder, stdout=asyncio.subprocess.DEVNULL, stderr=stderr
        )
    try:
        await _until_polling(tg, process, log)
        seen = time.monotonic()
        yield process, seen - started
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _top_ups(tg: FakeTelegram, count: int) -> int:
    """``count`` whole top-ups, ``CASHIERS`` at a time; returns how many ended ✅."""
    done = 0
    for round_ in range((count + CASHIERS - 1) // CASHIERS):
        cashiers = min(CASHIERS, count - round_ * CASHIERS)
        result = await rush(tg, cashiers, within=1.0, amount=str(1000 + round_), timeout=120)
        done += sum(1 for r in result.runs if r.lost is None)
    return done


async def _one(
    kind: str, keys: Path, sandbox_url: str, top_ups: int
) -> tuple[Started, tuple[float, float | None, int] | None]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tg = FakeTelegram()
        await tg.start()
        try:
            if kind == "echo":
                argv = [sys.executable, str(ROOT / "bench" / "echo_bot.py")]
                env = _echo_env(tg.base_url, folder)
            else:
                argv = [sys.executable, "-m", "bot"]
                env = _bot_env(tg.base_url, folder, sandbox_url, keys)
            async with _process(argv, env, folder, tg) as (process, seconds):
                await asyncio.sleep(IDLE)
                started = Started(seconds, _rss(process.pid))
                if not top_ups:
                    return started, None
                done = await _top_ups(tg, top_ups)
                await asyncio.sleep(SETTLE)
                return started, (_rss(process.pid), _peak(process.pid), done)
        finally:
            await tg.close()


def _spread(values: list[float], unit: str, digits: int) -> str:
    return f"{median(values):.{digits}f} {unit} ({', '.join(f'{v:.{digits}f}' for v in values)})"


async def run(sandbox_url: str, keys: Path, runs: int = 5, top_ups: int = 1000) -> str:
    """Alternating echo and bot ``runs`` times each (who goes first alternates too)."""
    echo: list[Started] = []
    ours: list[Started] = []
    after: tuple[float, float | None, int] | None = None
    for n in range(runs):
        for kind in ("echo", "bot") if n % 2 == 0 else ("bot", "echo"):
            last = kind == "bot" and n == runs - 1
            started, loaded = await _one(kind, keys, sandbox_url, top_ups if last else 0)
            (echo if kind == "echo" else ours).append(started)
            after = loaded or after
    echo_start, bot_start = median([s.seconds for s in echo]), median([s.seconds for s in ours])
    echo_rss, bot_rss = median([s.rss for s in echo]), median([s.rss for s in ours])
    start_ratio, rss_over = bot_start / echo_start, bot_rss - echo_rss
    rows: list[list[object]] = [
        [
            "start-up: spawn → first getUpdates",
            _spread([s.seconds for s in echo], "s", 2),
            _spread([s.seconds for s in ours], "s", 2),
            f"{start_ratio:.2f}×",
            f"≤ {GOAL_START}×",
            "met" if start_ratio <= GOAL_START else "NOT met",
        ],
        [
            f"RSS idle ({IDLE:.0f} s after it)",
            _spread([s.rss for s in echo], "MB", 0),
            _spread([s.rss for s in ours], "MB", 0),
            f"+{rss_over:.0f} MB",
            f"≤ +{GOAL_RSS:.0f} MB",
            "met" if rss_over <= GOAL_RSS else "NOT met",
        ],
    ]
    if after is not None:
        rss, peak, done = after
        rows.append(
            [
                f"RSS after {top_ups} top-ups ({done} ✅; +{SETTLE:.0f} s)",
                "—",
                f"{rss:.0f} MB" + (f" (peak {peak:.0f} MB)" if peak is not None else ""),
                f"+{rss - echo_rss:.0f} MB",
                "",
                "",
            ]
        )
    return table(
        f"7. Start-up and memory: python -m bot (SQLite, polling, no Redis) vs an aiogram echo "
        f"bot, median of {runs} runs each, alternating",
        ["what", "echo bot", "the bot", "bot vs echo", "goal", ""],
        rows,
    )
