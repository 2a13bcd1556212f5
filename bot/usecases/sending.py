"""Sending payments: every send is of a payment already committed to the journal.

A payment is journaled by :meth:`Sender.journal_in` — the confirm tap's transaction and a
supervisor's approval both go through it — and then sent by :meth:`Sender.send_soon`. The
resolver (``bot/usecases/resolver.py``) resends what has no final answer, with the same GUID,
login, amount and requester every time. Within this process a GUID is never sent twice at
once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from bot.allpay.answers import PayResult
from bot.allpay.protocol import PayStatus
from bot.domain.audit import AuditStatus
from bot.domain.clock import utcnow
from bot.domain.masking import mask_login
from bot.domain.model import Draft, Payment, RetryPolicy, Status
from bot.domain.money import new_guid
from bot.infra.logs import bind, log_context
from bot.infra.outage import PartDown
from bot.store.audit import AuditLog
from bot.store.db import Database, Tx
from bot.store.drafts import Drafts
from bot.store.payments import Payments
from bot.usecases.notices import Notices

log = logging.getLogger(__name__)


class PaymentGateway(Protocol):
    async def pay(self, guid: str, login: str, amount: Decimal, lang: str) -> PayResult: ...


class Sender:
    def __init__(
        self,
        db: Database,
        gateway: PaymentGateway,
        policy: RetryPolicy,
        notices: Notices,
        *,
        requester: str,
        fee: Decimal = Decimal(0),
        instance: str = "local",
        lease: float = 120.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.policy = policy
        self.notices = notices
        self.requester = requester
        self.fee = fee
        self._clock = clock
        #: This process, as the journal's send leases name it.
        self.instance = instance
        #: How long a lease lasts: longer than any one send (ALLPAY_TIMEOUT), so a lease
        #: that runs out means its holder died, and another process takes the GUID over.
        self.lease = timedelta(seconds=lease)
        # Within this process, a GUID being sent (the lease is the guard across processes).
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[Payment | None]] = set()
        #: Set when a send leaves a payment pending: the resolver plans its resend.
        self.resolver_wakeup = asyncio.Event()

    @property
    def in_flight(self) -> frozenset[str]:
        return frozenset(self._in_flight)

    # ------------------------------------------------------------------ journaling

    def journal_in(
        self,
        tx: Tx,
        now: datetime,
        draft: Draft,
        actor_id: int,
        message_id: int | None,
        *,
        fee: Decimal | None = None,
    ) -> Payment:
        """A NEW payment with a fresh GUID from a confirmed draft, in the caller's
        transaction; its card becomes the payment's status message through the outbox (the
        card's only writer from here on: "⏳ sending" can never land over a ✅). ``fee``: the
        one the cashier was told (an approval request keeps it), else CASHIN_FEE now."""
        guid = new_guid()
        Drafts.set_guid(tx, draft.id, guid)
        # If this process dies mid-send, the resolver resends after the first backoff.
        first_attempt_at = now + timedelta(seconds=self.policy.retry_min)
        payment = Payments.create(
            tx,
            now,
            draft,
            guid,
            requester=self.requester,
            message_id=message_id,
            first_attempt_at=first_attempt_at,
            fee=self.fee if fee is None else fee,
        )
        # The first send follows this commit: its lease is taken in the same transaction.
        Payments.claim(tx, now, guid, self.instance, now + self.lease)
        AuditLog.add(tx, now, actor_id, "payment.created", guid)
        self.notices.payment_changed(tx, now, draft.chat_id, guid, final=False)
        return payment

    # ------------------------------------------------------------------ sending

    def send_soon(self, payment: Payment) -> asyncio.Task[Payment | None]:
        """Send a payment just journaled, in the background (the caller returns at once);
        tracked for shutdown."""
        task = asyncio.create_task(self.send(payment.guid, payment), name=f"send {payment.guid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._log_failure)
        return task

    @staticmethod
    def _log_failure(task: asyncio.Task[Payment | None]) -> None:
        error = None if task.cancelled() else task.exception()
        if isinstance(error, PartDown):  # the journal said so, once
            log.info("%s: not recorded (%s); the resolver will resend", task.get_name(), error)
        elif error is not None:
            # The payment stays NEW/PENDING in the journal: the resolver resends it.
            log.error("%s failed; the resolver will resend", task.get_name(), exc_info=error)

    async def drain(self, timeout: float) -> None:
        """Let in-flight sends reach the journal (graceful shutdown); cancel what is left.

        A send cancelled before its answer was recorded leaves the payment NEW/PENDING in the
        journal, and the resolver resends the same GUID at the next start (a recording already
        on the database thread completes: see :mod:`bot.store.db`).
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
        try:
            await self.release_leases()
        except Exception:  # the leases run out anyway; shutdown goes on
            log.exception("could not release the send leases at shutdown")

    async def release_leases(self) -> int:
        """Hand this process's unfinished sends over to the others at once (shutdown)."""
        released = await self.db.write(lambda tx: Payments.release_all(tx, self.instance))
        if released:
            log.info("%d send lease(s) released for the other instances", released)
        return released

    async def claim(self, guid: str) -> tuple[Payment | None, bool]:
        """Take the lease on sending ``guid``: (the payment, whether this process holds it
        now). Another process holding an unexpired lease is sending it."""
        now = self._clock()

        def claim(tx: Tx) -> tuple[Payment | None, bool]:
            payment = Payments.get(tx, guid)
            if payment is None or payment.status in (Status.COMPLETED, Status.DECLINED):
                return payment, False
            return payment, Payments.claim(tx, now, guid, self.instance, now + self.lease)

        return await self.db.write(claim, durable=False)

    async def claim_due(self, limit: int) -> list[Payment]:
        """The due resends no other process is sending, leased to this one (one trip)."""
        now = self._clock()
        return await self.db.write(
            lambda tx: Payments.claim_due(tx, now, self.instance, now + self.lease, limit),
            durable=False,
        )

    async def get(self, guid: str) -> Payment | None:
        return await self.db.read(lambda tx: Payments.get(tx, guid))

    async def send(self, guid: str, known: Payment | None = None) -> Payment | None:
        """One send of a journaled, non-final payment; returns the journal's row after it
        (None: no such payment, or another process is sending it — left to it).
        ``known``: the row as this process leased it (just journaled); without it the lease
        is claimed first."""
        if guid in self._in_flight:
            return await self.get(guid)
        self._in_flight.add(guid)
        token = bind(guid=guid)
        try:
            payment = known
            if payment is None:
                payment, held = await self.claim(guid)
                if not held:
                    # Final, or another process is sending it: its answer is that one's.
                    return payment if payment is None or payment.status.is_final else None
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
            after, changed = await self.db.write(
                lambda tx: self.record_in(tx, now, guid, result, next_at)
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
                self.notices.wake()
            if not after.status.is_final:
                self.resolver_wakeup.set()
            return after
        finally:
            log_context.reset(token)
            self._in_flight.discard(guid)

    def record_in(
        self, tx: Tx, now: datetime, guid: str, result: PayResult, next_at: datetime
    ) -> tuple[Payment, bool]:
        """What one send established; (payment after, status changed). A final status is
        never overwritten; a change is audited and told, in this transaction."""
        before = Payments.get(tx, guid)
        if before is None:
            raise LookupError(guid)
        Payments.release(tx, guid, self.instance)
        if before.status.is_final:
            # Allpay's final answers never change; a contradicting one is logged by the caller.
            Payments.count_attempt(tx, now, guid)
            return before, False
        status = _record(tx, now, guid, result, next_at)
        changed = status is not before.status
        if changed:
            AuditLog.add(tx, now, None, "payment.status", guid, AuditStatus(before.status, status))
            self.notices.payment_changed(tx, now, before.chat_id, guid, final=status.is_final)
        after = Payments.get(tx, guid)
        assert after is not None
        return after, changed

    # ------------------------------------------------------------------ recheck

    async def recheck(self, guid: str, actor_id: int) -> RecheckResult:
        """A supervisor's /recheck: the same GUID sent once more, for a payment without
        Allpay's final word (UNKNOWN after the give-up horizon, or a stuck PENDING). UNKNOWN is
        final only until then: COMPLETED or DECLINED replaces it (cashier and supervisors
        told; reports, limits and receipts follow the journal); PENDING puts it back with the
        resolver under a fresh give-up horizon. Audited."""
        payment = await self.get(guid)
        if payment is None:
            return RecheckResult(Recheck.NOT_FOUND)
        if payment.status in (Status.COMPLETED, Status.DECLINED):
            return RecheckResult(Recheck.FINAL, payment)
        if guid in self._in_flight:
            return RecheckResult(Recheck.BUSY, payment)
        self._in_flight.add(guid)
        try:
            payment, held = await self.claim(guid)
            if payment is None:
                return RecheckResult(Recheck.NOT_FOUND)
            if payment.status in (Status.COMPLETED, Status.DECLINED):
                return RecheckResult(Recheck.FINAL, payment)
            if not held:  # another instance is sending it right now
                return RecheckResult(Recheck.BUSY, payment)
            result = await self.gateway.pay(guid, payment.login, payment.amount, payment.lang)
            now = self._clock()
            next_at = now + timedelta(seconds=self.policy.retry_min)
            after = await self.db.write(
                lambda tx: self._recheck_in(tx, now, guid, result, next_at, actor_id)
            )
        finally:
            self._in_flight.discard(guid)
        self.notices.wake()
        if after.status in (Status.COMPLETED, Status.DECLINED):
            return RecheckResult(Recheck.ANSWERED, after)
        self.resolver_wakeup.set()
        return RecheckResult(Recheck.PENDING, after)

    def _recheck_in(
        self,
        tx: Tx,
        now: datetime,
        guid: str,
        result: PayResult,
        next_at: datetime,
        actor_id: int,
    ) -> Payment:
        before = Payments.get(tx, guid)
        if before is None:
            raise LookupError(guid)
        Payments.release(tx, guid, self.instance)
        if before.status in (Status.COMPLETED, Status.DECLINED):  # answered meanwhile
            Payments.count_attempt(tx, now, guid)
            return before
        status = _record(tx, now, guid, result, next_at)  # no answer at all: PENDING
        if status is Status.PENDING:
            Payments.restart_horizon(tx, now, guid)
        detail = AuditStatus(before.status, status)
        AuditLog.add(tx, now, actor_id, "payment.recheck", guid, detail)
        if status is not before.status:
            self.notices.payment_changed(tx, now, before.chat_id, guid, final=status.is_final)
        after = Payments.get(tx, guid)
        assert after is not None
        return after

    # ------------------------------------------------------------------ no final answer

    async def raise_alert(self, guid: str) -> bool:
        """The one 'stuck pending' alert for a payment; False if already raised."""
        now = self._clock()

        def alert(tx: Tx) -> bool:
            if not Payments.mark_alerted(tx, now, guid):
                return False
            self.notices.stuck(tx, now, guid)
            AuditLog.add(tx, now, None, "payment.alert", guid)
            return True

        raised = await self.db.write(alert)
        if raised:
            self.notices.wake()
        return raised

    async def give_up(self, guid: str) -> bool:
        """Stop resending: UNKNOWN, needs manual reconciliation. Cashier and supervisors told."""
        now = self._clock()

        def give_up(tx: Tx) -> bool:
            payment = Payments.get(tx, guid)
            if payment is None or not Payments.give_up(tx, now, guid, self.instance):
                return False
            detail = AuditStatus(None, Status.UNKNOWN, gave_up=True)
            AuditLog.add(tx, now, None, "payment.status", guid, detail)
            self.notices.payment_changed(tx, now, payment.chat_id, guid, final=True)
            return True

        given_up = await self.db.write(give_up)
        if given_up:
            self.notices.wake()
        return given_up


def _record(tx: Tx, now: datetime, guid: str, result: PayResult, next_at: datetime) -> Status:
    """One send's answer into the journal; the status it recorded."""
    status = Status(result.status.value)
    Payments.record(
        tx,
        now,
        guid,
        status,
        cause=result.cause,
        user_message=result.user_message,
        developer_message=result.developer_message,
        reason=result.reason,
        next_attempt_at=next_at,
    )
    return status


class Recheck(StrEnum):
    NOT_FOUND = "not_found"
    FINAL = "final"  # COMPLETED or DECLINED: Allpay's final word is in, nothing to ask
    BUSY = "busy"  # being sent right now: its answer is on the way
    ANSWERED = "answered"  # Allpay gave its final word; the journal has it now
    PENDING = "pending"  # no final word yet: back with the resolver, a fresh horizon


@dataclass(frozen=True, slots=True)
class RecheckResult:
    outcome: Recheck
    payment: Payment | None = None
