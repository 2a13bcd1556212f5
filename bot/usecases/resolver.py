"""The resend loop: every payment without Allpay's final word is sent again, with the same
GUID, by :class:`Resolver` — with backoff (``RetryPolicy``), across restarts, one alert
when it takes long and UNKNOWN at the give-up horizon. Each send is :class:`Sender`'s."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.domain.clock import utcnow
from bot.domain.model import Payment
from bot.infra.loops import BackgroundLoop, wait_event
from bot.store.payments import Payments
from bot.usecases.sending import Sender

log = logging.getLogger(__name__)


class Resolver(BackgroundLoop):
    """Resends every non-final payment until Allpay gives a final answer, across restarts."""

    name = "resolver"

    def __init__(
        self,
        sender: Sender,
        *,
        concurrency: int = 8,
        clock: Callable[[], datetime] = utcnow,
        idle: float = 30.0,
    ) -> None:
        super().__init__(clock=clock, idle=idle)
        self.sender = sender
        self.db = sender.db
        self.policy = sender.policy
        self._semaphore = asyncio.Semaphore(concurrency)
        # Rows are read (and parsed on the event loop) a batch at a time: a thousand pending
        # payments at start-up must not become one long blocking slice (see bench/).
        self._batch = max(16, concurrency * 4)
        # A send that leaves a payment pending wakes the resolver to schedule its resend.
        self.wakeup = sender.resolver_wakeup

    async def next_due(self) -> datetime | None:
        owner = self.sender.instance
        return await self.db.read(lambda tx: Payments.next_due(tx, owner))

    async def run_once(self) -> int:
        """One pass over the due payments; returns how many were sent."""
        claimed_at = self._clock()
        batch = await self.sender.claim_due(self._batch)
        due = [p for p in batch if p.guid not in self.sender.in_flight]
        if due:
            await asyncio.gather(*(self._resolve(p, claimed_at) for p in due))
        elif batch:
            # Everything due is being sent right now (by the confirm step): let those sends
            # finish instead of polling for them.
            await wait_event(self.wakeup, self.policy.retry_min)
        return len(due)

    async def _resolve(self, payment: Payment, claimed_at: datetime) -> None:
        async with self._semaphore:
            # Sent on the lease claim_due took while it is fresh; one that waited long for a
            # free slot is claimed anew first — never sent on a lease about to run out.
            fresh = self._clock() - claimed_at < self.sender.lease / 2
            after = await self.sender.send(payment.guid, payment if fresh else None)
        if after is None or after.status.is_final:
            return
        age = (self._clock() - after.resolving_since).total_seconds()
        if age >= self.policy.give_up_after:
            if await self.sender.give_up(after.guid):
                log.error(
                    "payment %s: no final answer after %.0f s: UNKNOWN, needs reconciliation",
                    after.guid,
                    age,
                )
        elif (
            age >= self.policy.alert_after
            and after.alerted_at is None
            and await self.sender.raise_alert(after.guid)
        ):
            log.warning("payment %s: still pending after %.0f s: alert raised", after.guid, age)
