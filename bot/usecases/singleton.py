"""Work that one process does for all of them (polling Telegram): a named lease in the
journal, renewed while the work goes on, so a second process is refused at once and takes
over only once the first is gone (its lease runs out, or it lets go on stop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain.clock import utcnow
from bot.store.db import Database
from bot.store.leases import Leases

log = logging.getLogger(__name__)


class Singleton:
    def __init__(
        self,
        db: Database,
        name: str,
        owner: str,
        *,
        ttl: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.name = name
        self.owner = owner
        self.ttl = timedelta(seconds=ttl)
        self._clock = clock

    async def take(self) -> str | None:
        """Take (or renew) the lease: None if this process holds it now, else the holder."""
        now = self._clock()
        return await self.db.write(
            lambda tx: Leases.take(tx, now, self.name, self.owner, now + self.ttl),
            durable=False,
        )

    async def keep(self, lost: asyncio.Event) -> None:
        """Renew at a third of the lease until cancelled; ``lost`` is set if another process
        took it meanwhile (this one stalled past its lease)."""
        while True:
            await asyncio.sleep(self.ttl.total_seconds() / 3)
            holder = await self.take()
            if holder is not None:
                log.error("%s: %s took over; stopping here", self.name, holder)
                lost.set()
                return

    async def release(self) -> None:
        with contextlib.suppress(Exception):  # at shutdown: the lease runs out anyway
            await self.db.write(lambda tx: Leases.release(tx, self.name, self.owner))
