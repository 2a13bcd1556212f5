"""Schema migrations: a database made by an older bot is upgraded in place, data kept."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from bot.payments.db import MIGRATIONS, Database
from bot.payments.journal import Journal, Status
from tests.harness import CASHIER, seed_payment


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
        async with db.read() as conn, conn.execute("PRAGMA user_version") as cur:
            assert (await cur.fetchone()) == (len(MIGRATIONS),)
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
