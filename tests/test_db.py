"""Schema migrations: a database made by an older bot is upgraded in place, data kept."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import aiosqlite
import psycopg
import pytest

from bot.domain.audit import (
    AuditAmount,
    AuditCount,
    AuditDetail,
    AuditLimit,
    AuditRename,
    AuditRole,
    AuditRoleChange,
    AuditStatus,
    AuditText,
)
from bot.domain.limits import LimitKind, LimitRefusal
from bot.domain.model import Role, Status
from bot.infra.redaction import is_postgres_url
from bot.store.audit import decode as decode_detail
from bot.store.audit import encode as encode_detail
from bot.store.backends import open_database
from bot.store.db import LOCK_WAIT_MS, Database, Tx
from bot.store.schema import postgres as postgres_schema
from bot.store.schema.sqlite import MIGRATIONS
from bot.store.sqlite import SqliteDatabase
from tests.fixtures import Connect
from tests.harness import CASHIER, holding, seed_payment, wait_for_locks
from tests.journal import Journal

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends


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
    db = SqliteDatabase(path)
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


async def test_receipt_numbers_count_completed_payments_only(connect: Connect) -> None:
    from bot.allpay.protocol import PayStatus

    db = await connect()
    try:
        journal = Journal(db)
        first = await seed_payment(journal)
        declined = await seed_payment(journal, status=PayStatus.DECLINED)
        second = await seed_payment(journal)
        assert (first.receipt_no, declined.receipt_no, second.receipt_no) == (1, None, 2)
    finally:
        await db.close()


async def test_a_transaction_is_one_trip_and_rolls_back_whole(connect: Connect) -> None:
    """BEGIN, every statement and COMMIT run together on the database thread: one trip.
    A transaction that fails leaves nothing behind; two never interleave, also when they
    come from two processes (connections) at once."""
    db, other = await connect(), await connect()
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

        # Fifty transactions asked for at once, from two connections: each sees the one
        # before it whole (read, then write what it read), whichever process ran it.
        results = await asyncio.gather(*((db, other)[n % 2].write(move) for n in range(50)))
        assert sorted(low for low, _next in results) == list(range(50))
        assert all(after == (low + 1 if low < 49 else None) for low, after in results)
    finally:
        await db.close()


# ------------------------------------------------------------- both backends, one schema


async def _at_schema(database_url: str, version: int, *rows: str) -> None:
    """The database as a bot of schema ``version`` left it, with one user in it (and
    ``rows``: more INSERTs of that bot's)."""
    user = (
        "INSERT INTO users (user_id, role, name, blocked, created_at, updated_at) VALUES "
        "(5000000001, 'cashier', 'Old', 0, '2026-01-01T00:00:00.000000+00:00', "
        "'2026-01-01T00:00:00.000000+00:00')"
    )
    if is_postgres_url(database_url):
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as pg:
            for number in range(1, version + 1):
                await pg.execute(postgres_schema.MIGRATIONS[number - 1].encode())
            for row in (user, *rows):
                await pg.execute(row.encode())
            await pg.execute(b"CREATE TABLE schema_version (version INTEGER NOT NULL)")
            await pg.execute("INSERT INTO schema_version VALUES (%s)", (version,))
        return
    async with aiosqlite.connect(database_url.removeprefix("sqlite:///")) as conn:
        for number in range(1, version + 1):
            await conn.executescript(f"BEGIN;{MIGRATIONS[number - 1]}COMMIT;")
        for row in (user, *rows):
            await conn.execute(row)
        await conn.execute(f"PRAGMA user_version={version}")
        await conn.commit()


@pytest.mark.parametrize("version", range(len(MIGRATIONS)))
async def test_every_earlier_schema_is_migrated_to_the_current_one(
    database_url: str, connect: Connect, version: int
) -> None:
    """From empty (0) and from every earlier version, on each backend: the bot's start
    migrates in place and keeps what was there."""
    await _at_schema(database_url, version) if version else None
    db = await connect()
    assert await _version(db) == len(MIGRATIONS)
    if version:
        rows = await db.query("SELECT name, role FROM users WHERE user_id = 5000000001")
        assert [tuple(r) for r in rows] == [("Old", "cashier")]
    await seed_payment(Journal(db))  # the current schema works
    second = await connect()  # a second instance's start finds nothing to do
    assert await _version(second) == len(MIGRATIONS)


#: Audit details as bots before schema 12 wrote them (sentences), and their fields.
LEGACY_AUDIT: list[tuple[str, str | None, AuditDetail | None]] = [
    ("payment.created", None, None),
    ("payment.status", "PENDING->COMPLETED", AuditStatus(Status.PENDING, Status.COMPLETED)),
    ("payment.status", "->UNKNOWN (gave up)", AuditStatus(None, Status.UNKNOWN, gave_up=True)),
    ("payment.recheck", "UNKNOWN->DECLINED", AuditStatus(Status.UNKNOWN, Status.DECLINED)),
    ("approval.requested", "amount 150000", AuditAmount(Decimal(150000))),
    ("handover.written_off", "amount 200.50", AuditAmount(Decimal("200.50"))),
    (
        "limit.client_sum",
        "amount 5000, limit 100000, left -300.25",
        AuditLimit(
            Decimal(5000), LimitRefusal(LimitKind.CLIENT_SUM, Decimal(100000), Decimal("-300.25"))
        ),
    ),
    (
        "limit.cashier_count",
        "amount 5000, limit 10, left 0",
        AuditLimit(Decimal(5000), LimitRefusal(LimitKind.CASHIER_COUNT, Decimal(10), Decimal(0))),
    ),
    (
        "handover.confirmed",
        "received 7000, expected 7200",
        AuditCount(Decimal(7000), Decimal(7200)),
    ),
    ("roster.seed", "admin", AuditRole(Role.ADMIN)),
    ("roster.changed", "cashier->supervisor", AuditRoleChange(Role.CASHIER, Role.SUPERVISOR)),
    ("roster.renamed", "«Old Name» → «New»", AuditRename("Old Name", "New")),
    ("roster.renamed", "→ «New»", AuditRename(None, "New")),
    # What reads as no detail the bot wrote stays as it was written.
    ("roster.added", "boss <b>", AuditText("boss <b>")),
    ("approval.approved", "amount None", AuditText("amount None")),
    ("approval.approved", "", None),
    # Numbers no bot wrote (a hand-edited row): kept as text, the upgrade goes on.
    *(
        (action, sentence, AuditText(sentence))
        for action, sentence in (
            ("limit.client_sum", "amount 5000, limit 100000.125, left 3000"),
            ("limit.cashier_count", "amount 5000, limit 20.5, left 0"),
            ("approval.requested", "amount " + "9" * 40),
        )
    ),
]


async def test_audit_details_written_as_sentences_get_their_fields(
    database_url: str, connect: Connect
) -> None:
    """The migration to schema 12 reads each sentence once into its fields; the sentence
    stays as written. What reads back is typed, whatever wrote it."""
    rows = [
        "INSERT INTO audit (at, actor_id, action, subject, detail) VALUES "
        f"('2026-01-01T00:00:00.000000+00:00', 1, '{action}', 'x', "
        + ("NULL)" if sentence is None else "'" + sentence.replace("'", "''") + "')")
        for action, sentence, _detail in LEGACY_AUDIT
    ]
    await _at_schema(database_url, 11, *rows)
    db = await connect()
    entries = await Journal(db).audit_log(len(LEGACY_AUDIT) + 5)
    assert [(e.action, e.detail) for e in reversed(entries)] == [
        (action, detail) for action, _sentence, detail in LEGACY_AUDIT
    ]
    kept = await db.query("SELECT detail FROM audit ORDER BY id")
    assert [r[0] for r in kept] == [sentence for _action, sentence, _detail in LEGACY_AUDIT]


def test_every_audit_detail_is_stored_and_read_back_by_its_fields() -> None:
    for _action, _sentence, detail in LEGACY_AUDIT:
        stored = encode_detail(detail)
        assert (decode_detail(stored) if stored is not None else None) == detail
    stored = encode_detail(AuditRename("Ann", "Ann 87001234567"))
    assert stored is not None and "87001234567" not in stored  # redacted as every text


async def _version(db: Database) -> int:
    sql = "SELECT version FROM schema_version" if db.kind == "postgresql" else "PRAGMA user_version"
    [row] = await db.query(sql)
    return int(row[0])


async def test_a_newer_schema_is_refused_on_both_backends(
    database_url: str, connect: Connect
) -> None:
    await _at_schema(database_url, len(MIGRATIONS))
    db = await connect()  # the current bot on it: fine
    if is_postgres_url(database_url):
        await db.write(lambda tx: tx.run("UPDATE schema_version SET version = version + 1"))
    else:
        await wait_for_locks(db, 1)
        await db.write(lambda tx: tx.run(f"PRAGMA user_version={len(MIGRATIONS) + 1}"))
    await db.close()
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="newer than this bot"):
        await connect()
    # Nothing of the refused journal is left running (the loop's own executor aside): a
    # process that failed to start exits.
    started = [t for t in set(threading.enumerate()) - before if not t.name.startswith("asyncio_")]
    for thread in started:
        await asyncio.to_thread(thread.join, 10)  # each ends as its connection closes
    assert [t.name for t in started if t.is_alive()] == []


def _sqlite_schema(path: str) -> tuple[dict[str, set[str]], set[str], dict[str, int]]:
    with sqlite3.connect(path) as conn:
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        columns = {t: {str(c[1]) for c in conn.execute(f"PRAGMA table_info({t})")} for t in tables}
        indexes = {
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
        triggers = {
            str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        checks = {
            str(name): str(sql).upper().count("CHECK (")
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            )
            if "CHECK (" in str(sql).upper()
        }
    return columns, indexes | triggers, checks


async def test_postgresql_has_sqlites_schema(tmp_path: Path, postgres_url: str) -> None:
    """The same tables, columns, indexes, triggers and CHECKs (per table) on both backends;
    what the constraints refuse is exercised by the tests that run on both."""
    sqlite_db = open_database(f"sqlite:///{tmp_path / 's.sqlite3'}")
    pg = open_database(postgres_url)
    await sqlite_db.open()
    await pg.open()
    try:
        columns = {}
        for row in await pg.query(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name != 'schema_version'"
        ):
            columns.setdefault(str(row[0]), set()).add(str(row[1]))
        indexes = {
            str(r[0])
            for r in await pg.query(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                "AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'"
            )
        }
        triggers = {
            str(r[0])
            for r in await pg.query(
                "SELECT DISTINCT trigger_name FROM information_schema.triggers "
                "WHERE trigger_schema = current_schema()"
            )
        }
        checks = {
            str(r[0]): int(r[1])
            for r in await pg.query(
                "SELECT conrelid::regclass::text, COUNT(*) FROM pg_constraint "
                "WHERE contype = 'c' AND connamespace = current_schema()::regnamespace "
                "GROUP BY 1"
            )
        }
    finally:
        await pg.close()
        await sqlite_db.close()
    assert (columns, indexes | triggers, checks) == _sqlite_schema(str(tmp_path / "s.sqlite3"))


async def test_a_postgresql_session_cannot_hang_the_others(postgres_url: str) -> None:
    """Keepalives find a server that stopped answering; a session frozen inside a
    transaction loses it (and the writers' lock) instead of stopping every instance."""
    db = open_database(postgres_url)
    await db.open()
    try:
        settings = {
            name: str((await db.query(f"SHOW {name}"))[0][0])
            for name in ("idle_in_transaction_session_timeout", "lock_timeout", "statement_timeout")
        }
        assert settings == {
            "idle_in_transaction_session_timeout": "30s",
            "lock_timeout": "5s",
            "statement_timeout": "1min",
        }
    finally:
        await db.close()


async def test_an_instance_starting_during_a_long_migration_waits_for_it(
    postgres_url: str,
) -> None:
    """Another instance holds the writers' lock (migrating a large journal, as it were)
    longer than a transaction's lock wait: a starting one waits its turn, not fails."""
    first = open_database(postgres_url)
    await first.open()
    await first.close()
    async with holding(postgres_url):
        second = open_database(postgres_url)
        opening = asyncio.create_task(second.open())
        await asyncio.sleep((LOCK_WAIT_MS + 500) / 1000)  # past the usual wait, on purpose
        assert not opening.done()
    await opening
    assert await _version(second) == len(MIGRATIONS)
    await second.close()
