"""Sending payments: the confirm step and the resolver are the only callers of ``pay``.

Every send is of a payment already committed to the journal; the same GUID, login, amount
and requester every time. Within this process a GUID is never sent twice at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Protocol

from bot.allpay.protocol import PayResult, PayStatus, mask_login
from bot.logs import bind, log_context
from bot.loops import BackgroundLoop, wait_event
from bot.payments.controls import (
    Confirmation,
    ConfirmOutcome,
    Controls,
    Decision,
    DecisionResult,
    Limits,
)
from bot.payments.db import utcnow
from bot.payments.journal import Journal, Payment

log = logging.getLogger(__name__)


class PaymentGateway(Protocol):
    async def pay(self, guid: str, login: str, amount: Decimal, lang: str) -> PayResult: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retry_min: float
    retry_max: float
    alert_after: float
    give_up_after: float

    def delay(self, attempts: int) -> float:
        """Backoff before the next resend after ``attempts`` sends: min·2^(n-1), capped."""
        exponent = max(0, min(attempts - 1, 30))
        return float(min(self.retry_max, self.retry_min * (2**exponent)))


class PaymentService:
    def __init__(
        self,
        journal: Journal,
        gateway: PaymentGateway,
        policy: RetryPolicy,
        *,
        requester: str,
        controls: Controls | None = None,
        tz: tzinfo = UTC,
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.journal = journal
        self.controls = controls or Controls(journal, Limits())
        self.tz = tz
        self.gateway = gateway
        self.policy = policy
        self.requester = requester
        self._on_change = on_change
        self._clock = clock
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[Payment | None]] = set()
        self.resolver_wakeup = asyncio.Event()

    def notify_changed(self) -> None:
        """Something people must hear about was written to the outbox."""
        self._on_change()

    @property
    def in_flight(self) -> frozenset[str]:
        return frozenset(self._in_flight)

    def today(self) -> tuple[datetime, datetime]:
        """[start, end) of the local day (``TIMEZONE``) that daily limits count."""
        local = self._clock().astimezone(self.tz).date()
        start = datetime.combine(local, time(0), tzinfo=self.tz)
        return start, start + timedelta(days=1)

    def _first_attempt_at(self) -> datetime:
        # If this process dies mid-send, the resolver resends after the first backoff.
        return self._clock() + timedelta(seconds=self.policy.retry_min)

    async def confirm(
        self,
        draft_id: str,
        cashier_id: int,
        message_id: int | None,
        chat_id: int | None = None,
    ) -> Confirmation:
        """The confirm tap on the card (``chat_id``, ``message_id``): limits, approval, or the
        payment journaled durably (not sent)."""
        result = await self.controls.confirm(
            draft_id,
            cashier_id,
            requester=self.requester,
            message_id=message_id,
            chat_id=chat_id,
            first_attempt_at=self._first_attempt_at(),
            day=self.today(),
        )
        if result.payment is not None:
            log.info(
                "payment %s journaled: %s to %s by %d",
                result.payment.guid,
                result.payment.amount,
                mask_login(result.payment.login),
                cashier_id,
            )
            self.notify_changed()  # its status message is queued
        elif result.outcome is ConfirmOutcome.AWAITING:
            log.info("top-up by %d awaits a supervisor's approval", cashier_id)
            self.notify_changed()
        elif result.refusal is not None:
            log.info("top-up by %d refused: %s", cashier_id, result.refusal.kind.value)
        return result

    async def decide(self, approval_id: str, actor_id: int, *, approve: bool) -> DecisionResult:
        """A supervisor's decision; an approved payment is journaled and sent at once."""
        result = await self.controls.decide(
            approval_id,
            actor_id,
            approve=approve,
            requester=self.requester,
            first_attempt_at=self._first_attempt_at(),
        )
        if result.payment is not None:
            log.info(
                "approval %s: approved by %d, sending %s",
                approval_id,
                actor_id,
                result.payment.guid,
            )
            self.send_soon(result.payment.guid)
        if result.decision in (Decision.APPROVED, Decision.REJECTED, Decision.EXPIRED):
            self.notify_changed()
        return result

    def send_soon(self, guid: str) -> asyncio.Task[Payment | None]:
        """Send in the background (the handler returns at once); tracked for shutdown."""
        task = asyncio.create_task(self.send(guid), name=f"send {guid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._log_failure)
        return task

    @staticmethod
    def _log_failure(task: asyncio.Task[Payment | None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # The payment stays NEW/PENDING in the journal: the resolver resends it.
            log.error(
                "%s failed; the resolver will resend", task.get_name(), exc_info=task.exception()
            )

    async def drain(self, timeout: float) -> None:
        """Let in-flight sends reach the journal (graceful shutdown); cancel what is left.

        A cancelled send has written nothing: its payment stays NEW/PENDING in the journal and
        the resolver resends the same GUID at the next start.
        """
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        if pending:
            log.warning(
                "%d payment send(s) unfinished at shutdown; they resume at the next start",
                len(pending),
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def send(self, guid: str) -> Payment | None:
        """One send of a journaled, non-final payment; returns the journal's row after it."""
        if guid in self._in_flight:
            return await self.journal.get_payment(guid)
        self._in_flight.add(guid)
        token = bind(guid=guid)
        try:
            payment = await self.journal.get_payment(guid)
            if payment is None or payment.status.is_final:
                return payment
            bind(cashier_id=payment.cashier_id)  # reset with the token above
            log.debug(
                "sending %s to %s (attempt %d)",
                payment.status.value,
                mask_login(payment.login),
                payment.attempts + 1,
            )
            result = await self.gateway.pay(guid, payment.login, payment.amount, payment.lang)
            now = self._clock()
            next_at = now + timedelta(seconds=self.policy.delay(payment.attempts + 1))
            after, changed = await self.journal.record_attempt(
                guid, result, now=now, next_attempt_at=next_at
            )
            if (
                after.status.is_final
                and result.status is not PayStatus.PENDING
                and (after.status.value != result.status.value)
            ):
                log.error(
                    "payment %s: Allpay answered %s after final %s; journal kept %s",
                    guid,
                    result.status,
                    after.status,
                    after.status,
                )
            if changed:
                self._on_change()
            if not after.status.is_final:
                self.resolver_wakeup.set()
            return after
        finally:
            log_context.reset(token)
            self._in_flight.discard(guid)


class Resolver(BackgroundLoop):
    """Resends every non-final payment until Allpay gives a final answer, across restarts."""

    name = "resolver"

    def __init__(
        self,
        service: PaymentService,
        *,
        concurrency: int = 8,
        clock: Callable[[], datetime] = utcnow,
        idle: float = 30.0,
    ) -> None:
        super().__init__(clock=clock, idle=idle)
        self.service = service
        self.journal = service.journal
        self.policy = service.policy
        self._semaphore = asyncio.Semaphore(concurrency)
        # Rows are read (and parsed on the event loop) a batch at a time: a thousand pending
        # payments at start-up must not become one long blocking slice (see bench/).
        self._batch = max(16, concurrency * 4)
        # A send that leaves a payment pending wakes the resolver to schedule its resend.
        self.wakeup = service.resolver_wakeup

    async def next_due(self) -> datetime | None:
        return await self.journal.next_due()

    async def run_once(self) -> int:
        """One pass over the due payments; returns how many were sent."""
        now = self._clock()
        batch = await self.journal.due_payments(now, limit=self._batch)
        due = [p for p in batch if p.guid not in self.service.in_flight]
        if due:
            await asyncio.gather(*(self._resolve(p) for p in due))
        elif batch:
            # Everything due is being sent right now (by the confirm step): let those sends
            # finish instead of polling for them.
            await wait_event(self.wakeup, self.policy.retry_min)
        return len(due)

    async def _resolve(self, payment: Payment) -> None:
        async with self._semaphore:
            after = await self.service.send(payment.guid)
        if after is None or after.status.is_final:
            return
        now = self._clock()
        age = (now - after.created_at).total_seconds()
        if age >= self.policy.give_up_after:
            if await self.journal.give_up(after.guid, now):
                log.error(
                    "payment %s: no final answer after %.0f s: UNKNOWN, needs reconciliation",
                    after.guid,
                    age,
                )
                self.service.notify_changed()
        elif (
            age >= self.policy.alert_after
            and after.alerted_at is None
            and await self.journal.mark_alerted(after.guid, now)
        ):
            log.warning("payment %s: still pending after %.0f s: alert raised", after.guid, age)
            self.service.notify_changed()
