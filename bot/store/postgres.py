"""The journal on PostgreSQL (``DATABASE_URL=postgresql://…``), for several bot instances.

Same repositories, same SQL, same one-hop transactions as SQLite (:mod:`bot.store.sqlite`): a
transaction is a plain function of a :class:`~bot.store.db.Tx`, run whole on this database's
own thread with psycopg's synchronous connection. That is why psycopg and not asyncpg: with
asyncpg every repository would turn into coroutines awaited statement by statement from the
event loop, a cancelled caller would stop its transaction half-way, and the two backends
would need two copies of every repository. Here the repositories do not know which backend
they run on, a transaction costs one trip from the event loop whatever it holds, and a
caller cancelled meanwhile does not stop it (the confirm still commits; the resolver sends).

**Writers take turns, across every instance.** A write transaction first takes one
transaction-scoped advisory lock (per database and schema), so write transactions run one
at a time as they do on SQLite (``BEGIN IMMEDIATE``): every read-then-write the repositories
do (receipt numbers, "still waiting?" checks, claims) sees every write committed before it,
and the CHECKs and unique indexes are the second line. The bot's writes are short and few
(Telegram allows ~5 top-ups/s per bot token, however many instances run), so the turn costs
nothing that matters; the network trips of the statements are inside the thread.
Reads run in one ``REPEATABLE READ`` snapshot, like SQLite's read transactions.

``durable=False`` maps to ``synchronous_commit = off`` for that transaction: conversation
bookkeeping may lose its last moment in a server crash, money never does.

The schema is PostgreSQL's own text (:mod:`bot.store.schema.postgres`), the same tables as
SQLite's. The version is kept in ``schema_version``; instances starting together migrate one
at a time (the same lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from psycopg.errors import ReadOnlySqlTransaction
from psycopg.pq import TransactionStatus
from psycopg.rows import RowMaker
from psycopg.types.numeric import Int8Dumper

from bot.infra.outage import PartDown
from bot.store.db import LOCK_WAIT_MS, Database, Row, Tx
from bot.store.schema import CONVERSIONS
from bot.store.schema.postgres import MIGRATIONS

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How this process talks to the server. A server (or a network) that stops answering is
#: found out by TCP keepalives and ``tcp_user_timeout`` instead of hanging the database's
#: thread for ever; the call fails, and the next one connects again.
CONNECTION: dict[str, Any] = {
    "autocommit": True,  # BEGIN and COMMIT are said explicitly, as on SQLite
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
#: Every session's limits. A transaction that waits for a lock gives up after LOCK_WAIT_MS
#: (health turns red, like SQLite's busy timeout); a statement after 60 s; and an instance
#: frozen inside a transaction (a paused VM, a partition) loses it — and the writers' lock it
#: holds — after 30 s, instead of stopping every other instance's writes.
SESSION = (
    f"SET lock_timeout = {LOCK_WAIT_MS}",
    "SET statement_timeout = 60000",
    "SET idle_in_transaction_session_timeout = 30000",
)

#: How long one call may wait on the server once it runs: a transaction here is
#: milliseconds, waits for the writers' lock at most LOCK_WAIT_MS; past this the server is
#: taken for gone (a partition ACKed by a proxy or a NAT never trips a TCP timeout).
CALL_DEADLINE = 12.0
#: The same for the few long jobs (the daily pruning, an export over months): past the
#: server's own statement_timeout.
SLOW_DEADLINE = 75.0

#: The key of the writers' advisory lock: one per database and schema.
WRITERS_LOCK = "SELECT hashtext(current_database() || '.' || current_schema())"


@functools.lru_cache(maxsize=1024)
def _placeholders(sql: str) -> str:
    """SQLite's ``?`` as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Row(tuple[Any, ...]):
    """A row readable by position and by column name, like ``sqlite3.Row``."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._index[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._index)


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[_Row]:
    index = {name: position for position, name in enumerate(names)}
    return type("Row", (_Row,), {"_index": index, "__slots__": ()})


def _rows(cursor: psycopg.Cursor[Any]) -> RowMaker[_Row]:
    kind = _row_class(tuple(column.name for column in cursor.description or ()))

    def make(values: Sequence[Any]) -> _Row:
        return kind(values)

    return make


class _BoolAsInteger(Int8Dumper):
    """Flags are 0/1 integers in both schemas."""

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class PostgresTx(Tx):
    """:class:`Tx` on a psycopg connection: the same SQL, ``?`` placeholders translated."""

    __slots__ = ("_pg",)

    def __init__(self, conn: psycopg.Connection[_Row]) -> None:
        self._pg = conn

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return self._pg.execute(_placeholders(sql), params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self._pg.execute(_placeholders(sql), params).fetchall())

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self._pg.execute(_placeholders(sql), params).fetchone()
        return row[0] if row is not None else None

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._pg.execute(_placeholders(sql), params).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        with self._pg.cursor() as cursor:
            cursor.executemany(_placeholders(sql), list(rows))
            return cursor.rowcount


class PostgresDatabase(Database):
    kind = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._conn: psycopg.Connection[_Row] | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._lock_key = 0  # the writers' advisory lock: this database and schema's own
        self._calls = 0
        self._running: int | None = None  # the call on the thread now (set there)

    async def open(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres")
        # Another instance may be migrating a large journal: no deadline here.
        try:
            await self._call(self._setup, deadline=None, watched=False)
        except BaseException:
            await self.close()  # the connection and the thread: nothing left running
            raise

    async def close(self) -> None:
        if self._thread is None:
            return
        await self._call(self._disconnect)
        self._thread.shutdown(wait=True)
        self._thread = None

    async def _call(
        self, fn: Callable[[], T], *, deadline: float | None = CALL_DEADLINE, watched: bool = True
    ) -> T:
        """``fn`` on the database's thread. A server that cannot be reached — refused,
        reset, or silent past ``deadline`` once the call runs — fails the call with
        :class:`PartDown` (and the next call connects again); it never hangs the thread.
        The deadline is kept by a timer of the call's own, whoever waits for it (a caller
        that gives up first leaves the call to its timer)."""
        if self._thread is None:
            raise RuntimeError("database is not open")
        self.hops += 1
        self._calls += 1
        token = self._calls

        def timed() -> T:
            watchdog: threading.Timer | None = None
            if deadline is not None:
                watchdog = threading.Timer(deadline, self._cut, args=(token, deadline))
                watchdog.daemon = True
                watchdog.start()
            self._running = token
            try:
                return fn()
            finally:
                self._running = None
                if watchdog is not None:
                    watchdog.cancel()

        try:
            result = await asyncio.get_running_loop().run_in_executor(self._thread, timed)
        except (psycopg.OperationalError, psycopg.InterfaceError, ReadOnlySqlTransaction) as exc:
            if not watched:
                raise  # start-up: its own one line says it
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.part.failed(reason)
            raise PartDown("journal", reason) from exc
        if watched:
            self.part.answered()
        return result

    def _cut(self, token: int, deadline: float) -> None:
        """The timer's: the call ``token`` still waits on the server past its deadline (a
        proxy or a peer that accepts bytes and never answers: no TCP timeout fires). Ask the
        server to cancel the statement (it ends its transaction and lets go of the writers'
        lock), then shut the socket: the thread's wait fails at once, and its next call
        connects again."""
        conn = self._conn
        if self._running != token or conn is None or conn.closed:
            return
        log.warning("database: no answer within %.0f s; dropping the connection", deadline)
        with contextlib.suppress(Exception):
            conn.cancel_safe(timeout=2.0)
        if self._running != token:
            return  # the cancel ended it
        with contextlib.suppress(OSError, psycopg.Error):
            fd = os.dup(conn.pgconn.socket)
            with socket.socket(fileno=fd) as sock:
                sock.shutdown(socket.SHUT_RDWR)

    # On the database thread ---------------------------------------------------------

    def _connection(self) -> psycopg.Connection[_Row]:
        """The open connection; a new one if the server dropped the last (a restart, a
        failover). A transaction cut off that way has failed and said so to its caller."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if conn is not None:  # the part says it went, once
            self._conn = None
            conn.close()
        self._conn = conn = psycopg.connect(self.url, row_factory=_rows, **CONNECTION)
        conn.adapters.register_dumper(bool, _BoolAsInteger)
        for setting in SESSION:
            conn.execute(setting)
        if conn.execute("SELECT current_schema()").fetchone()[0] is None:  # type: ignore[index]
            conn.close()
            raise RuntimeError("DATABASE_URL: its search_path names no existing schema")
        self._lock_key = int(conn.execute(WRITERS_LOCK).fetchone()[0])  # type: ignore[index]
        return conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _setup(self) -> None:
        # Another instance may be migrating a large journal: wait for it, not LOCK_WAIT_MS.
        self._in_transaction(self._connection(), self._migrate, lock_wait_ms=600_000)

    def _migrate(self, tx: PostgresTx) -> None:
        conn = tx._pg
        conn.execute("SET LOCAL statement_timeout = 0")  # an index over a large journal
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        found = conn.execute("SELECT version FROM schema_version").fetchone()
        if found is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        version = int(found[0]) if found is not None else 0
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database is at schema {version}, newer than this bot ({len(MIGRATIONS)}); "
                "refusing to run an older bot on it"
            )
        for number in range(version + 1, len(MIGRATIONS) + 1):
            log.info("database: migrating to schema %d", number)
            conn.execute(MIGRATIONS[number - 1].encode())
            convert = CONVERSIONS.get(number)
            if convert is not None:
                convert(tx)
            conn.execute("UPDATE schema_version SET version = %s", (number,))

    def _in_transaction(
        self,
        conn: psycopg.Connection[_Row],
        work: Callable[[PostgresTx], T],
        *,
        snapshot: bool = False,
        lock_wait_ms: int | None = None,
    ) -> T:
        """``work`` in one transaction: a writer's (one at a time, see the module's
        docstring), or a read-only ``snapshot``."""
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if snapshot else "BEGIN")
        try:
            if lock_wait_ms is not None:
                conn.execute(f"SET LOCAL lock_timeout = {int(lock_wait_ms)}")
            if not snapshot:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            result = work(PostgresTx(conn))
            conn.execute("COMMIT")
        except BaseException:
            if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                with contextlib.suppress(psycopg.Error):  # a lost connection rolled it back
                    conn.execute("ROLLBACK")
            raise
        return result

    # The Database API ----------------------------------------------------------------

    async def write(
        self, work: Callable[[Tx], T], *, durable: bool = True, slow: bool = False
    ) -> T:
        def transaction() -> T:
            conn = self._connection()

            def body(tx: PostgresTx) -> T:
                if not durable:
                    conn.execute("SET LOCAL synchronous_commit = off")
                return work(tx)

            return self._in_transaction(conn, body)

        return await self._call(transaction, deadline=SLOW_DEADLINE if slow else CALL_DEADLINE)

    async def read(self, work: Callable[[Tx], T], *, slow: bool = False) -> T:
        return await self._call(
            lambda: self._in_transaction(self._connection(), work, snapshot=True),
            deadline=SLOW_DEADLINE if slow else CALL_DEADLINE,
        )

    @staticmethod
    def _probe(tx: Tx) -> None:
        if tx.value("SELECT pg_is_in_recovery()"):
            raise RuntimeError("the server is a read-only standby")
