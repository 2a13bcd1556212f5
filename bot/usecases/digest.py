"""The daily digest: at ``DIGEST_TIME`` (local) each supervisor chat gets the day's totals.

The scheduler only journals "the digest for day D is due" (once per day, in one transaction
with its outbox rows); the outbox delivers it. A bot that was down at digest time sends the
missed digest when it comes back, once.

``/digest`` reads the same figures at any moment (:func:`day_digest`): today's so far, or a
past day's, for a supervisor or an admin, without waiting for DIGEST_TIME.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from bot.domain.cash import CashDay
from bot.domain.clock import utcnow
from bot.domain.reports import Summary, day_bounds, local_today, summarize
from bot.infra.loops import BackgroundLoop
from bot.store.db import Database, Tx
from bot.store.digests import Digests
from bot.store.payments import Payments
from bot.store.roster import Roster
from bot.usecases.cash import CashDesk
from bot.usecases.notices import Notices
from bot.usecases.reports import Reports

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DayDigest:
    """What one day's digest says, read now: the day's top-ups per cashier, the top-ups
    without Allpay's final answer and cash on hand (both as of now), the day's handovers."""

    day: date
    summary: Summary
    names: dict[int, str]
    unresolved: int
    cash: CashDay
    #: When it was read; ``so_far``: the day is not over yet.
    read_at: datetime
    so_far: bool


async def day_digest(
    reports: Reports, cash: CashDesk, day: date, *, clock: Callable[[], datetime] = utcnow
) -> DayDigest | None:
    """``day``'s digest now, the figures the scheduled one is made of (None: a day to come)."""
    now = clock()
    today = local_today(now, reports.tz)
    if day > today:
        return None
    start, end = day_bounds(day, day, reports.tz)

    def read(tx: Tx) -> tuple[Summary, dict[int, str], int]:
        summary = summarize(Payments.totals(tx, start, end))
        return summary, Roster.names(tx), len(Payments.unresolved(tx))

    summary, names, unresolved = await reports.db.read(read)
    return DayDigest(day, summary, names, unresolved, await cash.day(day), now, so_far=day == today)


class DigestScheduler(BackgroundLoop):
    name = "digest"

    def __init__(
        self,
        db: Database,
        notices: Notices,
        at: time,
        tz: tzinfo,
        *,
        clock: Callable[[], datetime] = utcnow,
        idle: float = 600.0,
    ) -> None:
        super().__init__(clock=clock, idle=idle)
        self.db = db
        self.notices = notices
        self.at = at
        self.tz = tz

    def _moment(self, day: date) -> datetime:
        return datetime.combine(day, self.at, tzinfo=self.tz)

    def latest_due_day(self, now: datetime) -> date:
        """The day whose digest moment is the latest one at or before ``now``."""
        today = now.astimezone(self.tz).date()
        return today if now >= self._moment(today) else today - timedelta(days=1)

    async def run_once(self) -> int:
        now = self._clock()
        day = self.latest_due_day(now)
        last = await self.db.read(Digests.last_day)
        if last is None and day < now.astimezone(self.tz).date():
            return 0  # a fresh install does not owe yesterday's digest
        if last is not None and last >= day:
            return 0
        if await self.enqueue(day, now):
            log.info("digest for %s queued for supervisor chats", day.isoformat())
            return 1
        return 0

    async def enqueue(self, day: date, now: datetime) -> bool:
        """Queue ``day``'s digest for every supervisor chat, once per day ever."""

        def claim(tx: Tx) -> bool:
            if not Digests.claim(tx, day, now):
                return False
            self.notices.digest(tx, now, day)
            return True

        queued = await self.db.write(claim)
        if queued:
            self.notices.wake()
        return queued

    async def next_due(self) -> datetime | None:
        now = self._clock()
        today = now.astimezone(self.tz).date()
        moment = self._moment(today)
        return moment if moment > now else self._moment(today + timedelta(days=1))
