"""The supervisor's desk's figures (the Telegram Mini App): the day at a glance, what waits
now, look-ups and the balance's forecast — every figure computed here, read in one trip from
the journal (never this process's memory, so changes made by other instances show too).
Read only: the desk's actions go through the same use cases as the chat's buttons."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from bot.domain.cash import Handover
from bot.domain.clock import utcnow
from bot.domain.forecast import runs_out_at
from bot.domain.model import Approval, Payment, StaffUser, Status
from bot.domain.money import from_tiyn
from bot.domain.reports import Lookup, day_bounds, local_today
from bot.store.approvals import Approvals
from bot.store.db import Database, Tx
from bot.store.handovers import Handovers
from bot.store.payments import Payments
from bot.store.roster import Roster
from bot.usecases.cashbook import CashBook, book_in
from bot.usecases.reports import Balance, BalanceAnswer, Reports

#: Days the hourly chart's average is taken over (the days before the one shown).
AVERAGE_DAYS = 7
#: The most rows a look-up returns (the desk lists them on a phone).
FIND_LIMIT = 100
#: Statuses whose top-ups spend the agent's balance (sent, or possibly sent).
#: How long the desk shows the same Allpay balance (the watch, if on, asks on its own).
BALANCE_FRESH = timedelta(seconds=30)
SPENDING = (Status.COMPLETED, Status.NEW, Status.PENDING, Status.UNKNOWN)


def spending_in(tx: Tx, start: datetime, end: datetime) -> tuple[Decimal, datetime | None]:
    """What top-ups created in [start, end) took or may take from the agent's balance (✅,
    and those Allpay may still complete), and when the first top-up of them was made: the
    pace the desk's Balance screen and the balance watch's alert both count from."""
    sums = Payments.day_sums(tx, start, end)
    total = sum(tiyn for _c, status, _n, tiyn, _f in sums if status in SPENDING)
    return from_tiyn(total), Payments.first_created(tx, start, end)


@dataclass
class Figures:
    """Count, amount, fee (exact tenge) of one group of top-ups."""

    count: int = 0
    amount: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)

    def add(self, count: int, amount_tiyn: int, fee_tiyn: int) -> None:
        self.count += count
        self.amount += from_tiyn(amount_tiyn)
        self.fee += from_tiyn(fee_tiyn)


@dataclass
class DayFigures:
    """One local day: per status, per cashier (per status), per hour against the average."""

    day: date
    by_status: dict[Status, Figures] = field(default_factory=dict)
    by_cashier: dict[int, dict[Status, Figures]] = field(default_factory=dict)
    #: Top-ups created in each local hour (0..23) of the day.
    hourly: list[int] = field(default_factory=lambda: [0] * 24)
    #: The average per hour of the :data:`AVERAGE_DAYS` days before it.
    hourly_average: list[Decimal] = field(default_factory=lambda: [Decimal(0)] * 24)
    names: dict[int, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(f.count for f in self.by_status.values())

    @property
    def amount(self) -> Decimal:
        return sum((f.amount for f in self.by_status.values()), Decimal(0))

    @property
    def completed(self) -> Figures:
        return self.by_status.get(Status.COMPLETED, Figures())

    @property
    def fees(self) -> Decimal:
        """The agent's fees earned: completed top-ups only."""
        return self.completed.fee

    @property
    def cash_accepted(self) -> Decimal:
        """Cash the agent kept (amount + fee of ✅ top-ups)."""
        return self.completed.amount + self.completed.fee


@dataclass(frozen=True, slots=True)
class NowFigures:
    """What waits for someone now."""

    unresolved: list[Payment]
    approvals: list[Approval]
    handovers: list[Handover]
    book: CashBook
    names: dict[int, str]


@dataclass(frozen=True, slots=True)
class BalanceForecast:
    balance: Balance
    #: Sent (or possibly sent) today so far, and from when the pace is measured.
    spent_today: Decimal
    since: datetime | None
    #: When it runs out at today's pace (None: cannot tell, or not in a year).
    runs_out: datetime | None


class Dashboard:
    def __init__(
        self,
        db: Database,
        tz: tzinfo,
        reports: Reports,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.tz = tz
        self.reports = reports
        self._clock = clock
        #: Read on every call, never cached: a /block on another instance counts at once.
        self._roster = Roster(cache=False)
        #: Allpay's last balance answer per language, and one ask at a time: however many
        #: desks show the Balance tab, Allpay is asked at most once per BALANCE_FRESH.
        self._balances: dict[str, tuple[datetime, Balance]] = {}
        self._asking = asyncio.Lock()

    def today(self) -> date:
        return local_today(self._clock(), self.tz)

    def now(self) -> datetime:
        return self._clock()

    async def viewer(self, user_id: int) -> StaffUser | None:
        """The person as the roster says now (None: not on it, or removed)."""
        return await self.db.read(lambda tx: self._roster.get(tx, user_id))

    async def day(self, day: date) -> DayFigures:
        start, end = day_bounds(day, day, self.tz)
        earlier = start - timedelta(days=AVERAGE_DAYS)

        def read(tx: Tx) -> DayFigures:
            figures = DayFigures(day, names=Roster.names(tx))
            for cashier_id, status, count, tiyn, fee in Payments.day_sums(tx, start, end):
                figures.by_status.setdefault(status, Figures()).add(count, tiyn, fee)
                per = figures.by_cashier.setdefault(cashier_id, {})
                per.setdefault(status, Figures()).add(count, tiyn, fee)
            before = [0] * 24
            for moment, count in Payments.hourly(tx, earlier, end):
                # A UTC hour is one local hour in the bot's zones (whole-hour offsets); in a
                # half-hour zone it counts in the local hour it starts in.
                hour = moment.astimezone(self.tz).hour
                if moment >= start:
                    figures.hourly[hour] += count
                else:
                    before[hour] += count
            figures.hourly_average = [Decimal(n) / AVERAGE_DAYS for n in before]
            return figures

        return await self.db.read(read)

    async def waiting(self) -> NowFigures:
        return await self.db.read(
            lambda tx: NowFigures(
                Payments.unresolved(tx),
                Approvals.waiting(tx),
                Handovers.waiting(tx),
                book_in(tx),
                Roster.names(tx),
            )
        )

    async def find(
        self,
        lookup: Lookup | None,
        day: date | None,
        cashier_id: int | None,
        status: Status | None,
    ) -> tuple[list[Payment], dict[int, str]]:
        """By GUID (or its prefix) or login; else by day (today by default), cashier,
        status. Newest first, at most :data:`FIND_LIMIT`."""
        if lookup is not None:
            found = await self.reports.find(lookup, None, FIND_LIMIT)
            payments = [
                p
                for p in found.payments
                if (cashier_id is None or p.cashier_id == cashier_id)
                and (status is None or p.status is status)
            ]
            return payments, found.names
        start, end = day_bounds(day or self.today(), day or self.today(), self.tz)
        return await self.db.read(
            lambda tx: (
                Payments.search(
                    tx, start, end, cashier_id=cashier_id, status=status, limit=FIND_LIMIT
                ),
                Roster.names(tx),
            )
        )

    async def _fresh_balance(self, lang: str) -> Balance:
        async with self._asking:
            kept = self._balances.get(lang)
            if kept is not None and self._clock() - kept[0] < BALANCE_FRESH:
                return kept[1]
            balance = await self.reports.balance(lang)
            self._balances[lang] = (self._clock(), balance)
            return balance

    async def balance(self, lang: str) -> BalanceForecast:
        """The agent's Allpay balance, and when it runs out at today's pace: what was sent
        (or possibly sent) today, from the day's first top-up to now."""
        balance = await self._fresh_balance(lang)
        now = self._clock()
        start, end = day_bounds(self.today(), self.today(), self.tz)

        spent_today, first = await self.db.read(lambda tx: spending_in(tx, start, end))
        runs_out = None
        known = balance.result.amount if balance.result is not None else None
        if balance.answer is BalanceAnswer.KNOWN and known is not None and first is not None:
            runs_out = runs_out_at(known, spent_today, first, now)
        return BalanceForecast(balance, spent_today, first, runs_out)
