"""The sandbox's books: its own SQLite file, one row per GUID and requester (so a restart of
the bot or of the sandbox forgets nothing), and each agent's balance. One connection, one lock:
a payment is created or advanced in one transaction, its next status decided by the caller."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiosqlite

from bot.allpay.protocol import PayStatus
from bot.infra.files import private_file

DEFAULT_BALANCE = Decimal(100_000_000)

_LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    requester   TEXT NOT NULL,
    guid        TEXT NOT NULL,
    login       TEXT NOT NULL,
    amount      TEXT NOT NULL,
    status      TEXT NOT NULL,
    requests    INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (requester, guid)
);
CREATE TABLE IF NOT EXISTS balances (
    requester TEXT PRIMARY KEY,
    balance   TEXT NOT NULL
);
"""


@dataclass(slots=True)
class LedgerRow:
    requester: str
    guid: str
    login: str
    amount: Decimal
    status: PayStatus
    requests: int


#: Decides a non-final payment's next status from (row, created now, agent balance).
Decider = Callable[[LedgerRow, bool, Decimal], PayStatus]


class Ledger:
    """The sandbox's books. One connection, one lock: correctness over speed."""

    def __init__(self, path: Path, initial_balance: Decimal = DEFAULT_BALANCE) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._initial_balance = initial_balance

    async def open(self) -> None:
        private_file(self._path)
        self._db = await aiosqlite.connect(self._path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=FULL")
        await self._db.executescript(_LEDGER_SCHEMA)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "ledger not open"
        return self._db

    async def get(self, requester: str, guid: str) -> LedgerRow | None:
        async with self.db.execute(
            "SELECT requester, guid, login, amount, status, requests FROM payments "
            "WHERE requester = ? AND guid = ?",
            (requester, guid),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return LedgerRow(row[0], row[1], row[2], Decimal(row[3]), PayStatus(row[4]), row[5])

    async def all(self) -> list[LedgerRow]:
        async with self.db.execute(
            "SELECT requester, guid, login, amount, status, requests FROM payments ORDER BY rowid"
        ) as cur:
            rows = await cur.fetchall()
        return [LedgerRow(r[0], r[1], r[2], Decimal(r[3]), PayStatus(r[4]), r[5]) for r in rows]

    async def balance(self, requester: str) -> Decimal:
        async with self.db.execute(
            "SELECT balance FROM balances WHERE requester = ?", (requester,)
        ) as cur:
            row = await cur.fetchone()
        return Decimal(row[0]) if row else self._initial_balance

    async def set_balance(self, requester: str, balance: Decimal) -> None:
        """The agent's balance set outright, as Allpay's back office would (tests, the demo):
        what ``availableBalance`` answers from now on."""
        async with self._lock:
            await self.db.execute(
                "INSERT INTO balances(requester, balance) VALUES(?, ?) "
                "ON CONFLICT(requester) DO UPDATE SET balance = excluded.balance",
                (requester, str(balance)),
            )

    async def apply(
        self, requester: str, guid: str, login: str, amount: Decimal, decide: Decider
    ) -> tuple[LedgerRow, bool]:
        """Create or advance one payment atomically; return (row, created)."""
        async with self._lock:
            now = datetime.now(UTC).isoformat()
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                row = await self.get(requester, guid)
                created = row is None
                if row is None:
                    row = LedgerRow(requester, guid, login, amount, PayStatus.PENDING, 1)
                else:
                    row.requests += 1
                if row.login != login or row.amount != amount:
                    raise GuidReused
                if not row.status.is_final:
                    balance = await self.balance(requester)
                    new_status = decide(row, created, balance)
                    if new_status is PayStatus.COMPLETED:
                        await self.db.execute(
                            "INSERT INTO balances(requester, balance) VALUES(?, ?) "
                            "ON CONFLICT(requester) DO UPDATE SET balance = excluded.balance",
                            (requester, str(balance - amount)),
                        )
                    row.status = new_status
                await self.db.execute(
                    "INSERT INTO payments(requester, guid, login, amount, status, requests, "
                    "created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(requester, guid) DO UPDATE SET status = excluded.status, "
                    "requests = excluded.requests, updated_at = excluded.updated_at",
                    (requester, guid, login, str(amount), row.status.value, row.requests, now, now),
                )
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            return row, created


class GuidReused(Exception):
    """The same GUID arrived with another login or amount."""
