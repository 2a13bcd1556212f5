"""Schema migrations: a database made by an older bot is upgraded in place, data kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest

from bot.domain.model import Status
from bot.store.db import MIGRATIONS, Database, Tx
from tests.harness import CASHIER, seed_payment
from tests.journal import Journal


async def test_a_schema_1_database_is_upgraded_with_its_payments(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(path) as conn:
        await conn.executescript(f"BEGIN;{MIGRATIONS[0]}PRAGMA user_version=1;COMMIT;")
        await conn.execute(
            "INSERT INTO payments (guid, requester, cashier_id, chat_id, login, client_name, "
            "amount_tiyn, lang, status, created_at, updated_at, next_attempt_at) VALUES "
            "('{00000000-0000-4000-8000-000000000001}', 'a', ?, ?, '77000000001', 'X', 150000, "
            "'ru', 'PENDING', '2026-11-01T00:00:00.000000+00:00', "
            "'2026-11-01T00:00:00.000000+00:00', '2026-11-01T00:00:00.000000+00:00')",
            (CASHIER, CASHIER),
        )
        await conn.commit()
    db = Database(path)
    await db.open()
    try:
        journal = Journal(db)
        [old] = await journal.unresolved()
        assert old.status is Status.PENDING and old.receipt_no is None
        fresh = await seed_payment(journal)  # the new columns work on the upgraded file
        assert fresh.receipt_no == 1
        [version] = await db.query("PRAGMA user_version")
        assert tuple(version) == (len(MIGRATIONS),)
    finally:
        await db.close()


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    async with aiosqlite.connect(path) as conn:
        await conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
        await conn.commit()
    db = Database(path)
    with pytest.raises(RuntimeError, match="newer than this bot"):
        await db.open()
    await db.close()


async def test_receipt_numbers_count_completed_payments_only(tmp_path: Path) -> None:
    from bot.allpay.protocol import PayStatus

    db = Database(tmp_path / "r.sqlite3")
    await db.open()
    try:
        journal = Journal(db)
        first = await seed_payment(journal)
        declined = await seed_payment(journal, status=PayStatus.DECLINED)
        second = await seed_payment(journal)
        assert (first.receipt_no, declined.receipt_no, second.receipt_no) == (1, None, 2)
    finally:
        await db.close()


async def test_a_transaction_is_one_trip_and_rolls_back_whole(tmp_path: Path) -> None:
    """BEGIN, every statement and COMMIT run together on the database thread: one trip.
    A transaction that fails leaves nothing behind; two never interleave."""
    db = Database(tmp_path / "hops.sqlite3")
    await db.open()
    try:

        def fill(tx: Tx) -> int:
            tx.run("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
            for n in range(50):
                tx.run("INSERT INTO t (n) VALUES (?)", (n,))
            return int(tx.value("SELECT COUNT(*) FROM t"))

        before = db.hops
        assert await db.write(fill) == 50
        assert db.hops == before + 1

        def fail(tx: Tx) -> None:
            tx.run("INSERT INTO t (n) VALUES (-1)")
            raise ValueError("stop")

        with pytest.raises(ValueError, match="stop"):
            await db.write(fail)
        assert [tuple(r) for r in await db.query("SELECT COUNT(*), MIN(n) FROM t")] == [(50, 0)]

        def move(tx: Tx) -> tuple[int, int | None]:
            low = int(tx.value("SELECT MIN(n) FROM t"))
            tx.run("DELETE FROM t WHERE n = ?", (low,))
            return low, tx.value("SELECT MIN(n) FROM t")  # None once the table is empty

        # Fifty transactions asked for at once: each sees the one before it whole.
        results = await asyncio.gather(*(db.write(move) for _ in range(50)))
        assert sorted(low for low, _next in results) == list(range(50))
        assert all(after == low + 1 for low, after in results[:-1])
        assert results[-1] == (49, None)
    finally:
        await db.close()
