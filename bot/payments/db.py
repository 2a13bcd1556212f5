"""One SQLite database for journal, roster, outbox and conversation state.

WAL with ``synchronous=FULL`` for everything about money: a committed payment survives a
crash or a power loss. Conversation bookkeeping (FSM state, drafts, preferences, outbox
progress) commits with ``synchronous=NORMAL``: in WAL mode that survives a process crash and
is made durable by the next FULL commit; only a power cut may lose its last moments, which
costs a cashier a re-typed step, never money. The schema is versioned with
``PRAGMA user_version``; forward migrations run at start-up. One connection, one lock:
statements of one transaction never interleave with another's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from bot.files import private_file

log = logging.getLogger(__name__)

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE users (
        user_id     INTEGER PRIMARY KEY,
        role        TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'cashier')),
        name        TEXT,
        blocked     INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE user_prefs (
        user_id   INTEGER PRIMARY KEY,
        language  TEXT NOT NULL
    );
    CREATE TABLE drafts (
        id           TEXT PRIMARY KEY,
        cashier_id   INTEGER NOT NULL,
        chat_id      INTEGER NOT NULL,
        login        TEXT NOT NULL,
        client_name  TEXT NOT NULL,
        identified   INTEGER NOT NULL,
        amount_tiyn  INTEGER NOT NULL CHECK (amount_tiyn > 0),
        lang         TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('OPEN', 'CONFIRMED', 'CANCELLED')),
        guid         TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
    );
    CREATE TABLE payments (
        guid               TEXT PRIMARY KEY,
        draft_id           TEXT UNIQUE REFERENCES drafts (id),
        requester          TEXT NOT NULL,
        cashier_id         INTEGER NOT NULL,
        chat_id            INTEGER NOT NULL,
        message_id         INTEGER,
        login              TEXT NOT NULL,
        client_name        TEXT NOT NULL,
        amount_tiyn        INTEGER NOT NULL CHECK (amount_tiyn > 0),
        lang               TEXT NOT NULL,
        status             TEXT NOT NULL
                           CHECK (status IN ('NEW', 'PENDING', 'COMPLETED', 'DECLINED', 'UNKNOWN')),
        attempts           INTEGER NOT NULL DEFAULT 0,
        last_error         TEXT,
        user_message       TEXT,
        developer_message  TEXT,
        reason             TEXT,
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL,
        next_attempt_at    TEXT NOT NULL,
        last_attempt_at    TEXT,
        final_at           TEXT,
        alerted_at         TEXT
    );
    CREATE INDEX payments_open ON payments (next_attempt_at)
        WHERE status IN ('NEW', 'PENDING');
    CREATE INDEX payments_cashier ON payments (cashier_id, created_at);
    CREATE INDEX payments_created ON payments (created_at);
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        kind        TEXT NOT NULL,
        chat_id     INTEGER NOT NULL,
        guid        TEXT REFERENCES payments (guid),
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     TEXT NOT NULL,
        last_error  TEXT,
        created_at  TEXT NOT NULL,
        done_at     TEXT,
        failed      INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_due ON outbox (next_at) WHERE done_at IS NULL;
    CREATE TABLE audit (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        at        TEXT NOT NULL,
        actor_id  INTEGER,
        action    TEXT NOT NULL,
        subject   TEXT,
        detail    TEXT
    );
    CREATE TABLE fsm (
        key    TEXT PRIMARY KEY,
        state  TEXT,
        data   TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: roster removals, receipt numbers, the daily digest, look-up by login
    """
    ALTER TABLE users ADD COLUMN removed_at TEXT;
    ALTER TABLE payments ADD COLUMN receipt_no INTEGER;
    CREATE UNIQUE INDEX payments_receipt ON payments (receipt_no) WHERE receipt_no IS NOT NULL;
    CREATE INDEX payments_login ON payments (login, created_at);
    ALTER TABLE outbox ADD COLUMN ref TEXT;
    CREATE TABLE digests (
        day         TEXT PRIMARY KEY,
        created_at  TEXT NOT NULL
    );
    """,
    # 3: supervisor approval above a threshold
    """
    CREATE TABLE approvals (
        id           TEXT PRIMARY KEY,
        draft_id     TEXT NOT NULL UNIQUE REFERENCES drafts (id),
        cashier_id   INTEGER NOT NULL,
        chat_id      INTEGER NOT NULL,
        message_id   INTEGER,
        login        TEXT NOT NULL,
        client_name  TEXT NOT NULL,
        amount_tiyn  INTEGER NOT NULL CHECK (amount_tiyn > 0),
        state        TEXT NOT NULL
                     CHECK (state IN ('WAITING', 'APPROVED', 'REJECTED', 'EXPIRED', 'CANCELLED')),
        decided_by   INTEGER,
        decided_at   TEXT,
        reason       TEXT,
        guid         TEXT,
        created_at   TEXT NOT NULL,
        expires_at   TEXT NOT NULL
    );
    CREATE INDEX approvals_waiting ON approvals (expires_at) WHERE state = 'WAITING';
    CREATE INDEX approvals_cashier ON approvals (cashier_id, created_at);
    CREATE TABLE approval_cards (
        approval_id  TEXT NOT NULL REFERENCES approvals (id),
        chat_id      INTEGER NOT NULL,
        message_id   INTEGER NOT NULL,
        PRIMARY KEY (approval_id, chat_id)
    );
    """,
    # 4: a draft from the first step (the typed login lives in the draft, never in the
    # conversation state), and the card a draft's buttons belong to. SQLite cannot relax a
    # CHECK in place: the table is rebuilt (foreign keys are off during migrations).
    """
    CREATE TABLE drafts_new (
        id               TEXT PRIMARY KEY,
        cashier_id       INTEGER NOT NULL,
        chat_id          INTEGER NOT NULL,
        login            TEXT NOT NULL,
        client_name      TEXT NOT NULL DEFAULT '',
        identified       INTEGER NOT NULL DEFAULT 0,
        amount_tiyn      INTEGER CHECK (amount_tiyn IS NULL OR amount_tiyn > 0),
        lang             TEXT NOT NULL,
        state            TEXT NOT NULL
                         CHECK (state IN ('LOGIN', 'CLIENT', 'OPEN', 'CONFIRMED', 'CANCELLED')),
        guid             TEXT,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        card_message_id  INTEGER,
        CHECK (state IN ('LOGIN', 'CLIENT', 'CANCELLED') OR amount_tiyn IS NOT NULL)
    );
    INSERT INTO drafts_new (id, cashier_id, chat_id, login, client_name, identified,
                            amount_tiyn, lang, state, guid, created_at, updated_at)
        SELECT id, cashier_id, chat_id, login, client_name, identified, amount_tiyn, lang,
               state, guid, created_at, updated_at FROM drafts;
    DROP TABLE drafts;
    ALTER TABLE drafts_new RENAME TO drafts;
    CREATE INDEX drafts_cashier_open ON drafts (cashier_id)
        WHERE state IN ('LOGIN', 'CLIENT', 'OPEN');
    -- parts of a multi-part message already delivered (a digest resumes after them)
    ALTER TABLE outbox ADD COLUMN progress INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX outbox_chat_due ON outbox (chat_id, next_at) WHERE done_at IS NULL;
    """,
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def ts(moment: datetime) -> str:
    """Stored form of a moment: UTC ISO-8601, fixed width, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._synchronous = "FULL"

    async def open(self) -> None:
        private_file(self.path)
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        await self._conn.execute("PRAGMA journal_mode=WAL")
        await self._conn.execute("PRAGMA synchronous=FULL")
        await self._conn.execute("PRAGMA foreign_keys=ON")
        await self._conn.execute("PRAGMA busy_timeout=5000")
        await self._migrate()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _migrate(self) -> None:
        conn = self._require()
        async with conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database {self.path} is at schema {version}, newer than this bot "
                f"({len(MIGRATIONS)}); refusing to run an older bot on it"
            )
        if version == len(MIGRATIONS):
            return
        # Rebuilding a table (drop, rename) needs foreign keys off; they are checked after.
        await conn.execute("PRAGMA foreign_keys=OFF")
        try:
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                log.info("database: migrating to schema %d", number)
                await conn.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;"
                )
            async with conn.execute("PRAGMA foreign_key_check") as cur:
                broken = list(await cur.fetchall())
            if broken:
                raise RuntimeError(f"database {self.path}: foreign keys broken: {broken[:3]}")
        finally:
            await conn.execute("PRAGMA foreign_keys=ON")

    def _require(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    @asynccontextmanager
    async def tx(self, *, durable: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (BEGIN IMMEDIATE), committed on success: fsynced when
        ``durable`` (the default, and always for money), else as WAL's NORMAL allows."""
        async with self._lock:
            conn = self._require()
            wanted = "FULL" if durable else "NORMAL"
            if wanted != self._synchronous:  # only between transactions, never inside one
                await conn.execute(f"PRAGMA synchronous={wanted}")
                self._synchronous = wanted
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            yield self._require()

    async def writable(self) -> bool:
        """For health checks: can we write a transaction right now?"""
        try:
            async with self.tx() as conn:
                await conn.execute("CREATE TEMP TABLE IF NOT EXISTS _probe (x)")
                await conn.execute("DELETE FROM _probe")
            return True
        except Exception:
            log.exception("database is not writable")
            return False
