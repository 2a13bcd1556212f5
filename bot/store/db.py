"""One database for the journal, the roster, the outbox and conversation state, behind the
same repositories: SQLite, the embedded default (:mod:`bot.store.sqlite`), or PostgreSQL for
several instances (:mod:`bot.store.postgres`), chosen by :func:`bot.store.backends.open_database`.
This module is what both share and what repositories and use cases see: :class:`Tx`,
:class:`Database`, and the stored form of a moment.

**One hop per transaction.** A transaction is a plain function of a :class:`Tx`, run whole
on the database's thread: BEGIN, its statements and COMMIT cost one trip from the event loop,
not one per statement, and two transactions can never interleave (the thread runs one
function at a time, in the order they were asked for). Repositories (:mod:`bot.store`) write
those functions' parts; use cases compose them.

Everything about money is committed durably (fsynced); conversation bookkeeping (FSM state,
drafts, preferences, outbox progress) may be committed less so (``durable=False``), which
costs a cashier a re-typed step in a power cut, never money. The schema is versioned
(:mod:`bot.store.schema`); forward migrations run at start-up.

A caller cancelled while its transaction runs does not stop it: the function completes (and
commits) on the thread. A confirm cancelled that way leaves a NEW payment the resolver sends.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from bot.infra.outage import Part, PartDown

log = logging.getLogger(__name__)
T = TypeVar("T")
#: How long a transaction waits for another process's before failing (health turns red).
LOCK_WAIT_MS = 5000


class Row(Protocol):
    """A row by column name (or position): ``sqlite3.Row`` or PostgreSQL's like it."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> list[str]: ...

    def __iter__(self) -> Iterator[Any]: ...


def ts(moment: datetime) -> str:
    """Stored form of a moment: UTC ISO-8601, fixed width, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def marks(values: Sized) -> str:
    """``?, ?, ?`` for an ``IN (...)`` of these values."""
    return ", ".join("?" * len(values))


class Tx:
    """The statements of one transaction (or one consistent read), on the database thread."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        row = self._conn.execute(sql, params).fetchone()
        return row[0] if row is not None else None

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """A write; returns how many rows it changed."""
        return self._conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return self._conn.executemany(sql, rows).rowcount


class Database:
    """What the repositories' callers use: transactions, each one trip to the database's
    thread. :class:`SqliteDatabase` and :class:`~bot.store.postgres.PostgresDatabase`."""

    kind: ClassVar[str]
    #: The SQLite file (backups copy it); None on PostgreSQL (pg_dump's job).
    path: Path | None = None

    def __init__(self) -> None:
        #: Trips from the event loop to the database thread (bench/ reports it per step).
        self.hops = 0
        #: Whether the journal answers: a trip that cannot reach it raises
        #: :class:`~bot.infra.outage.PartDown` and says so here (one log line each way).
        self.part = Part("journal")

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def write(
        self, work: Callable[[Tx], T], *, durable: bool = True, slow: bool = False
    ) -> T:
        """``work`` as one write transaction, committed if it returns: durable (fsynced)
        when ``durable`` (the default, and always for money). An exception rolls it back
        and reaches the caller. Write transactions run one at a time. ``slow``: a long job
        (pruning, an export), given longer before a silent server is taken for gone."""
        raise NotImplementedError

    async def read(self, work: Callable[[Tx], T], *, slow: bool = False) -> T:
        """``work``'s reads, from one snapshot of the database."""
        raise NotImplementedError

    async def writable(self) -> bool:
        """For health checks: can we write a transaction right now?"""
        try:
            await self.write(self._probe)
            return True
        except PartDown:  # said once by the part itself
            return False
        except Exception:
            log.exception("database is not writable")
            return False

    @staticmethod
    def _probe(tx: Tx) -> None:
        """A write that proves the database takes writes (each backend its own)."""
        raise NotImplementedError

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """One ad-hoc read (tests, tools, benchmarks): the repositories are the bot's way."""
        return await self.read(lambda tx: tx.all(sql, params))
