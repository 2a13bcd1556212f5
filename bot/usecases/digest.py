"""The daily digest: at ``DIGEST_TIME`` (local) each supervisor chat gets the day's totals.

The scheduler only journals "the digest for day D is due" (once per day, in one transaction
with its outbox rows); the outbox delivers it. A bot that was down at digest time sends the
missed digest when it comes back, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo

from bot.domain.clock import utcnow
from bot.loops import BackgroundLoop
from bot.store.db import Database, Tx
from bot.store.digests import Digests
from bot.usecases.notices import Notices

log = logging.getLogger(__name__)


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
