"""Table 3: the resolver catching up 1,000 pending payments at start-up."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path

from bench.common import pct, table
from bot.allpay.client import AllpayClient
from bot.allpay.signing import Signer, Verifier
from bot.domain.clock import utcnow
from bot.domain.model import RetryPolicy, Status
from bot.store.db import Database, Tx, ts
from bot.store.drafts import Drafts
from bot.store.payments import Payments
from bot.store.sqlite import SqliteDatabase
from bot.usecases.notices import Notices
from bot.usecases.resolver import Resolver
from bot.usecases.sending import Sender


async def _open(db: Database) -> int:
    counts = await db.read(Payments.status_counts)
    return sum(counts.get(s, 0) for s in (Status.NEW, Status.PENDING))


def _journal(sender: Sender, payments: int) -> Callable[[Tx], None]:
    """``payments`` confirmed top-ups, journaled as the confirm tap does, all due now."""

    def journal(tx: Tx) -> None:
        now = utcnow()
        for i in range(payments):
            draft = Drafts.start(
                tx, now, cashier_id=1, chat_id=1, login="77000000002", lang="ru",
                client=("X", True, None),
            )  # fmt: skip
            Drafts.open_card(tx, now, draft.id, 1, Decimal(100 + i))
            Drafts.take(tx, now, draft.id, 1)
            opened = Drafts.get(tx, draft.id)
            assert opened is not None
            sender.journal_in(tx, now, opened, 1, None)
        tx.run("UPDATE payments SET next_attempt_at = ?", (ts(now - timedelta(seconds=1)),))

    return journal


class LagMonitor:
    """How late the event loop runs a 1 ms timer: the longest blocking slice, roughly."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.001)
            self.lags.append(loop.time() - before - 0.001)

    def __enter__(self) -> LagMonitor:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def catch_up(url: str, keys: Path, payments: int, concurrency: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        db = SqliteDatabase(Path(tmp) / "r.sqlite3")
        await db.open()
        client = AllpayClient(
            url,
            requester="bench-agent",
            signer=Signer.from_file(keys / "agent.key.pem", "SANDBOX-0001"),
            verifier=Verifier.from_file(keys / "allpay.pub.pem"),
            timeout=30,
            tz=UTC,
        )
        in_flight = peak = 0
        original = client.pay

        async def counting_pay(*args: object) -> object:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await original(*args)  # type: ignore[arg-type]
            finally:
                in_flight -= 1

        client.pay = counting_pay  # type: ignore[method-assign]
        changed = asyncio.Event()
        notices = Notices(())
        notices.wake = changed.set  # by every status change
        sender = Sender(
            db, client, RetryPolicy(2, 60, 600, 172800), notices, requester="bench-agent"
        )
        await db.write(_journal(sender, payments))
        resolver = Resolver(sender, concurrency=concurrency)
        with LagMonitor() as lag:
            started = time.perf_counter()
            resolver.start()
            while await _open(db):
                await changed.wait()
                changed.clear()
            elapsed = time.perf_counter() - started
        await resolver.stop()
        await client.close()
        await db.close()
    return [
        f"{payments} pending, ALLPAY_CONCURRENCY={concurrency}",
        f"{elapsed:.2f} s",
        f"{payments / elapsed:.0f}/s",
        f"{peak} (bound {concurrency})",
        f"{pct(lag.lags, 0.99) * 1e3:.1f} ms",
        f"{max(lag.lags) * 1e3:.1f} ms",
    ]


async def run(url: str, keys: Path, payments: int) -> str:
    rows = [await catch_up(url, keys, payments, c) for c in (8, 32)]
    return table(
        "3. Resolver catch-up at start-up (sandbox answers final at once; goal: no slice > 5 ms)",
        ["run", "all final after", "rate", "peak Allpay calls", "loop lag p99", "loop lag max"],
        rows,
    )
