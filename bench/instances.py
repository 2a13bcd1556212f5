"""Table 6: SQLite ×1 against PostgreSQL ×1, ×2, ×3 instances, in one run.

(a) The update cost of a conversation step (``/cashin``, a login, an amount, ``/cancel``)
in-process through ``Dispatcher.feed_update`` with an instant Allpay check, on each backend,
with its database trips. (b) Whole top-ups by ``cashiers`` cashiers at once (client
``77000000002``, ✅ at once) through ``python -m bot`` processes in webhook mode behind a
round-robin front (``tests/cluster.py``), against the plain Bot API stand-in and the Allpay
sandbox in its own process: payments per second and confirm → ✅ p50 / p95. PostgreSQL runs
share Redis (conversations, pacing), as several instances must; the ×1 row shows its cost
alone. Needs PostgreSQL and Redis (``CASHIN_TEST_POSTGRES_URL``, ``CASHIN_TEST_REDIS_URL``);
without them the table says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psycopg
from redis.asyncio import Redis
from tests.cluster import Cashier, cluster_env, running_cluster, webhook_delivery
from tests.fixtures import POSTGRES_URL, REDIS_URL, postgres_schema

from bench.common import median, pct, recording_bot, table
from bench.updates import UNTHROTTLED, InstantAllpay, conversation_stream, settings_for
from bot.devtools.sandbox import ensure_sandbox_keys
from bot.devtools.telegram import FakeTelegram
from bot.wiring.app import build_app


@contextlib.asynccontextmanager
async def _schema() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema, dropped after."""
    name = f"bench{secrets.token_hex(4)}"
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as admin:
        await admin.execute(f"CREATE SCHEMA {name}".encode())
        try:
            yield postgres_schema(name)
        finally:
            await admin.execute(f"DROP SCHEMA {name} CASCADE".encode())


async def _step_cost(folder: Path, database_url: str, updates: int) -> tuple[float, float]:
    """µs per conversation step and database trips per step."""
    stream = conversation_stream(max(1, updates // 4))
    bot, _session = recording_bot()
    settings = settings_for(folder, database_url=database_url, sandbox_dir=folder / "sandbox")
    async with build_app(settings, bot=bot) as app:
        app.pacer.budget = UNTHROTTLED
        app.cashin.directory = InstantAllpay()
        for update in conversation_stream(10, first_user=1000):  # warm-up
            await app.dispatcher.feed_update(bot, update)
        hops = app.db.hops
        started = time.perf_counter()
        for update in stream:
            await app.dispatcher.feed_update(bot, update)
        seconds = time.perf_counter() - started
        return seconds / len(stream) * 1e6, (app.db.hops - hops) / len(stream)


async def _top_ups(
    folder: Path,
    *,
    database_url: str,
    instances: int,
    redis_prefix: str | None,
    sandbox_url: str,
    keys_folder: Path,
    cashiers: int,
    each: int,
) -> tuple[float, float, float]:
    """Payments per second, confirm → ✅ p50 and p95 (s)."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    telegram = FakeTelegram()
    await telegram.start()
    users = list(range(9001, 9001 + cashiers))
    env = cluster_env(
        folder,
        telegram_url=telegram.base_url,
        database_url=database_url,
        allpay_url=sandbox_url,
        keys=ensure_sandbox_keys(keys_folder),
        cashiers=users,
        redis_url=REDIS_URL if redis_prefix else None,
        redis_prefix=redis_prefix or "cashin",
    )
    try:
        async with (
            running_cluster(env, folder, instances) as (_cluster, front),
            aiohttp.ClientSession() as session,
        ):
            deliver = webhook_delivery(telegram, front, session)
            people = [Cashier(user, telegram, deliver) for user in users]

            async def work(index: int, cashier: Cashier) -> None:
                for n in range(each):
                    await cashier.top_up("77000000002", str(1000 + index * 10 + n))

            started = time.monotonic()
            await asyncio.gather(*(work(i, c) for i, c in enumerate(people)))
            elapsed = time.monotonic() - started
    finally:
        await telegram.close()
    latencies = [seconds for cashier in people for seconds in cashier.latencies]
    return cashiers * each / elapsed, median(latencies), pct(latencies, 0.95)


async def _reachable() -> str | None:
    try:
        async with await psycopg.AsyncConnection.connect(POSTGRES_URL, connect_timeout=3):
            pass
        redis = Redis.from_url(REDIS_URL)
        try:
            await redis.ping()
        finally:
            await redis.aclose()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def run(
    sandbox_url: str, keys_folder: Path, folder: Path, cashiers: int, each: int, updates: int
) -> str:
    title = (
        f"6. Instances: SQLite ×1 and PostgreSQL ×1, ×2, ×3 ({cashiers} cashiers × {each} "
        "top-ups, webhook behind a round-robin front; conversation step in-process)"
    )
    missing = await _reachable()
    if missing is not None:
        return f"### {title}\n\nnot run: PostgreSQL or Redis unreachable ({missing})\n"
    rows: list[list[object]] = []
    sqlite_url = f"sqlite:///{folder / 'steps' / 'bench.sqlite3'}"
    (folder / "steps").mkdir(parents=True, exist_ok=True)
    sqlite_step = await _step_cost(folder / "steps", sqlite_url, updates)
    async with _schema() as url:
        pg_step = await _step_cost(folder / "steps-pg", url, updates)
    configs: list[tuple[str, int]] = [("SQLite", 1), ("PostgreSQL", 1), ("PostgreSQL", 2)]
    configs.append(("PostgreSQL", 3))
    for number, (backend, count) in enumerate(configs):
        where = folder / f"run{number}"
        if backend == "SQLite":
            rate, p50, p95 = await _top_ups(
                where,
                database_url=f"sqlite:///{where / 'cashin.sqlite3'}",
                instances=1,
                redis_prefix=None,
                sandbox_url=sandbox_url,
                keys_folder=keys_folder,
                cashiers=cashiers,
                each=each,
            )
            step = sqlite_step
        else:
            async with _schema() as url:
                rate, p50, p95 = await _top_ups(
                    where,
                    database_url=url,
                    instances=count,
                    redis_prefix=f"bench{secrets.token_hex(4)}",
                    sandbox_url=sandbox_url,
                    keys_folder=keys_folder,
                    cashiers=cashiers,
                    each=each,
                )
            step = pg_step
        rows.append(
            [
                f"{backend} ×{count}" + (" + Redis" if backend != "SQLite" else ""),
                f"{rate:.1f}/s",
                f"{p50 * 1000:.0f} / {p95 * 1000:.0f} ms",
                f"{step[0]:.0f} µs / {step[1]:.2f} trips",
            ]
        )
    return table(
        title,
        ["journal", "payments/s", "confirm → ✅ p50 / p95", "conversation step (in-process)"],
        rows,
    )
