"""The balance watch (``BALANCE_ALERT_BELOW``): the agent's Allpay balance asked every
``BALANCE_CHECK_EVERY`` by one instance at a time (the ``balance`` lease), and supervisors
told once when it falls below the mark — with until when it lasts at today's pace — and
once when it is back above it, never once per check.

Whether it is below is the journal's (table ``balance_watch``): the change and its messages
are one transaction, so however many instances ask, one alert is queued per crossing. An ask
that gets no usable answer (Allpay away, a Fault, a figure that is not a number) changes
nothing and is said in one log line when it starts failing and one when it answers again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal

from bot.domain.balance import BalanceAlert, BalanceState, Forecast
from bot.domain.clock import utcnow
from bot.domain.forecast import MIN_SPAN, runs_out_at
from bot.domain.reports import day_bounds, local_today
from bot.infra.loops import BackgroundLoop
from bot.infra.outage import Part
from bot.store.balance_watch import BalanceStates
from bot.store.db import Database, Tx
from bot.store.leases import Leases
from bot.usecases.dashboard import spending_in
from bot.usecases.notices import Notices
from bot.usecases.reports import BalanceSource

log = logging.getLogger(__name__)

#: The lease whose holder asks Allpay; others leave the asking to it.
LEASE = "balance"
#: A forecast further off than this says "more than a week" (no date that far).
HORIZON = timedelta(days=7)
_HOUR = Decimal(3600)


def forecast(balance: Decimal, spent: Decimal, first: datetime | None, now: datetime) -> Forecast:
    """Until when ``balance`` lasts at today's pace: ``spent`` (what today's top-ups took or
    may take, the first made at ``first``) per hour since then — the figures and the moment
    the desk's Balance screen shows (:func:`bot.domain.forecast.runs_out_at`). Nothing spent,
    or less of the day than :data:`MIN_SPAN` behind: no pace, nothing to tell."""
    if first is None or spent <= 0 or now - first < MIN_SPAN:
        return Forecast()
    hours = Decimal((now - first) // timedelta(microseconds=1)) / Decimal(1_000_000) / _HOUR
    pace = (spent / hours).quantize(Decimal("0.01"), ROUND_DOWN)
    if pace <= 0:
        return Forecast()
    hours_left = (max(balance, Decimal(0)) / (spent / hours)).quantize(Decimal("0.1"), ROUND_DOWN)
    if balance <= 0:
        return Forecast(pace, hours_left, now)
    until = runs_out_at(balance, spent, first, now)
    if until is None or until - now > HORIZON:
        return Forecast(pace, hours_left, None)
    return Forecast(pace, hours_left, until)


class BalanceWatch(BackgroundLoop):
    name = "balance"

    def __init__(
        self,
        db: Database,
        allpay: BalanceSource,
        notices: Notices,
        tz: tzinfo,
        *,
        threshold: Decimal,
        every: float,
        agent: str,
        instance: str = "local",
        lang: str = "ru",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(clock=clock, idle=every)
        self.db = db
        self.allpay = allpay
        self.notices = notices
        self.tz = tz
        self.threshold = threshold
        self.every = timedelta(seconds=every)
        #: Whose balance (Allpay's requester): the journal's row is the agent's.
        self.agent = agent
        #: This process, as the lease names it.
        self.instance = instance
        self.lang = lang
        #: Allpay's balance service: its failures said once, and its return once.
        self.part = Part("Allpay's balance (availableBalance)", clock=clock)
        self._due: datetime | None = None

    async def run_once(self) -> int:
        """Ask, if this instance holds the lease, and record the answer: 1 if it queued an
        alert (the balance crossed the mark)."""
        now = self._clock()
        self._due = now + self.every
        # Held past the next ask, so the holder keeps it; a dead holder's runs out.
        until = now + 2 * self.every
        holder = await self.db.write(
            lambda tx: Leases.take(tx, now, LEASE, self.instance, until), durable=False
        )
        if holder is not None:
            return 0
        balance = await self.ask()
        if balance is None:
            return 0
        return 1 if await self.record(balance, self._clock()) is not None else 0

    async def ask(self) -> Decimal | None:
        """Allpay's figure, or None (said once while it lasts) when there is none."""
        try:
            result = await self.allpay.available_balance(self.lang)
        except Exception as exc:  # AllpayError, or anything past it: never the loop's end
            self.part.failed(str(exc) or type(exc).__name__)
            return None
        if result.amount is None:
            self.part.failed("the answer is not a number")
            return None
        self.part.answered()
        return result.amount.quantize(Decimal("0.01"), ROUND_FLOOR)

    async def record(self, balance: Decimal, checked_at: datetime) -> BalanceAlert | None:
        """Keep ``balance`` as the last figure; if it crossed the mark since the last one,
        queue the alert in the same transaction and return it. A figure older than the one
        kept (another instance asked later and recorded first) changes nothing."""
        today = local_today(checked_at, self.tz)
        start, _end = day_bounds(today, today, self.tz)

        def apply(tx: Tx) -> BalanceAlert | None:
            state = BalanceStates.get(tx, self.agent)
            if state is not None and state.checked_at >= checked_at:
                return None
            below = balance < self.threshold
            crossed = below if state is None else state.below != below
            since = checked_at if crossed or state is None else state.since
            BalanceStates.put(tx, self.agent, BalanceState(below, since, balance, checked_at))
            if not crossed:
                return None
            spent, first = spending_in(tx, start, checked_at)
            alert = BalanceAlert(
                below,
                balance,
                self.threshold,
                checked_at,
                forecast(balance, spent, first, checked_at) if below else Forecast(),
            )
            self.notices.balance(tx, checked_at, alert)
            return alert

        alert = await self.db.write(apply)
        if alert is not None:
            log.info(
                "balance watch: the agent's balance is %s the mark; supervisors are told",
                "below" if alert.below else "back above",
            )
            self.notices.wake()
        return alert

    async def state(self) -> BalanceState | None:
        """The balance as last seen by any instance (None: never asked yet)."""
        return await self.db.read(lambda tx: BalanceStates.get(tx, self.agent))

    async def next_due(self) -> datetime | None:
        return self._due

    async def stop(self) -> None:
        await super().stop()
        with contextlib.suppress(Exception):  # at shutdown: the lease runs out anyway
            await self.db.write(lambda tx: Leases.release(tx, LEASE, self.instance))
