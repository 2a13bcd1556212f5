"""The journal on SQLite (``DATABASE_URL=sqlite:///path``), the embedded default: one file,
aiosqlite's thread, ``BEGIN IMMEDIATE`` for every write transaction.

WAL with ``synchronous=FULL`` for everything about money: a committed payment survives a
crash or a power loss. Conversation bookkeeping (``durable=False``) commits with
``synchronous=NORMAL``: in WAL mode that survives a process crash and is made durable by the
next FULL commit; only a power cut may lose its last moments. The schema
(:mod:`bot.store.schema.sqlite`) is versioned with ``PRAGMA user_version``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import aiosqlite

from bot.infra.files import private_file
from bot.infra.outage import PartDown
from bot.store.db import LOCK_WAIT_MS, Database, Tx
from bot.store.schema import CONVERSIONS
from bot.store.schema.sqlite import MIGRATIONS

log = logging.getLogger(__name__)
T = TypeVar("T")
#: SQLite's primary result codes that mean "the journal cannot be used right now" (another
#: process holds it past the busy timeout, the disk fails or is full), not a wrong statement.
SQLITE_UNAVAILABLE = frozenset({5, 6, 10, 13, 14})  # BUSY, LOCKED, IOERR, FULL, CANTOPEN


class SqliteDatabase(Database):
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path: Path = path
        self._conn: aiosqlite.Connection | None = None
        self._synchronous = "FULL"  # read and set on the database thread only

    async def open(self) -> None:
        private_file(self.path)
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await self._on_thread(self._setup)
        except BaseException:
            # A migration that fails (a newer schema, a disk that is full) must not leave
            # aiosqlite's thread behind: it is no daemon, the process could never exit.
            await self.close()
            raise

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _on_thread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` with the connection on aiosqlite's thread: one trip, however many
        statements. aiosqlite has no public call for this (omnilib/aiosqlite#19); its
        ``_execute`` is what every one of its own calls goes through. The lock file pins
        the version; ``tests/test_db.py`` fails if that changes under us."""
        conn = self._conn
        if conn is None:
            raise RuntimeError("database is not open")
        self.hops += 1
        raw = conn._conn  # aiosqlite's own connection, used only on its thread (below)
        try:
            result: T = await conn._execute(fn, raw)  # type: ignore[no-untyped-call]
        except sqlite3.OperationalError as exc:
            if (exc.sqlite_errorcode & 0xFF) not in SQLITE_UNAVAILABLE:
                raise  # a bug (a statement SQLite refuses), not the journal going away
            self.part.failed(str(exc))
            raise PartDown("journal", str(exc)) from exc
        self.part.answered()
        return result

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        # What people typed (kept updates, blanked once handled) leaves no trace in free pages.
        conn.execute("PRAGMA secure_delete=FAST")
        conn.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
        self._migrate(conn)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database {self.path} is at schema {version}, newer than this bot "
                f"({len(MIGRATIONS)}); refusing to run an older bot on it"
            )
        if version == len(MIGRATIONS):
            return
        # Rebuilding a table (drop, rename) needs foreign keys off; they are checked after.
        conn.execute("PRAGMA foreign_keys=OFF")
        try:
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                log.info("database: migrating to schema %d", number)
                self._migration(conn, number, script)
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                found = [tuple(row) for row in broken[:3]]
                raise RuntimeError(f"database {self.path}: foreign keys broken: {found}")
        finally:
            conn.execute("PRAGMA foreign_keys=ON")

    @staticmethod
    def _migration(conn: sqlite3.Connection, number: int, script: str) -> None:
        """Migration ``number`` whole or not at all: its text, then what it does to the rows
        it finds (:data:`~bot.store.schema.CONVERSIONS`), and the new version."""
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{script}")  # left open: committed below
            convert = CONVERSIONS.get(number)
            if convert is not None:
                convert(Tx(conn))
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def write(
        self, work: Callable[[Tx], T], *, durable: bool = True, slow: bool = False
    ) -> T:
        """BEGIN IMMEDIATE; not ``durable``: as WAL's NORMAL allows."""
        wanted = "FULL" if durable else "NORMAL"

        def transaction(conn: sqlite3.Connection) -> T:
            if wanted != self._synchronous:  # only between transactions, never inside one
                conn.execute(f"PRAGMA synchronous={wanted}")
                self._synchronous = wanted
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(Tx(conn))
                conn.execute("COMMIT")
            except BaseException:
                # Also when COMMIT itself failed; SQLite may have rolled back already.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        return await self._on_thread(transaction)

    async def read(self, work: Callable[[Tx], T], *, slow: bool = False) -> T:
        def snapshot(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN")
            try:
                return work(Tx(conn))
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")  # read only: nothing to keep

        return await self._on_thread(snapshot)

    @staticmethod
    def _probe(tx: Tx) -> None:
        tx.run("CREATE TEMP TABLE IF NOT EXISTS _probe (x)")
        tx.run("DELETE FROM _probe")
