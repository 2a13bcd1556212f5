"""Telegram's updates kept in the journal from arrival until their handler has finished
(table ``updates`` through its owner, :mod:`bot.store.updates`): what the intake
(:mod:`bot.telegram.runtime.intake`) asks of the journal, each one trip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bot.domain.clock import utcnow
from bot.store.db import Database
from bot.store.updates import KeptUpdate, Updates

__all__ = ["Inbox", "KeptUpdate"]


class Inbox:
    def __init__(
        self,
        db: Database,
        *,
        owner: str,
        claim: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        #: This process, as the updates' claims name it.
        self.owner = owner
        #: Longer than any handler runs: a claim that runs out means its process died.
        self.claim = claim
        self._clock = clock

    async def keep(self, updates: Sequence[tuple[int, int, str]]) -> set[int]:
        """Keep ``(update_id, sender_id, JSON)``, claimed by this process, durably: the ids
        that were new. Raises :class:`~bot.infra.outage.PartDown` when the journal cannot
        keep them."""
        now = self._clock()
        fresh = await self.db.write(
            lambda tx: Updates.keep(tx, now, updates, self.owner, now + self.claim)
        )
        return set(fresh)

    async def done(self, update_ids: Sequence[int]) -> None:
        now = self._clock()
        await self.db.write(lambda tx: Updates.done(tx, now, update_ids), durable=False)

    async def renew(self, update_ids: Sequence[int]) -> None:
        """This process still handles these: their claims run on."""
        until = self._clock() + self.claim
        await self.db.write(
            lambda tx: Updates.renew(tx, update_ids, self.owner, until), durable=False
        )

    async def take_lapsed(self, limit: int) -> list[KeptUpdate]:
        now = self._clock()
        return await self.db.write(
            lambda tx: Updates.claim_lapsed(tx, now, self.owner, now + self.claim, limit),
            durable=False,
        )

    async def next_lapse(self) -> datetime | None:
        return await self.db.read(Updates.next_lapse)

    async def release(self) -> int:
        return await self.db.write(lambda tx: Updates.release(tx, self.owner), durable=False)

    async def prune(self, before: datetime) -> int:
        return await self.db.write(lambda tx: Updates.prune(tx, before), durable=False)
