"""Supervisor approval of large top-ups: request, decide (first decision wins), expire.

A request is made in the confirm tap's transaction (:meth:`ApprovalDesk.request_in`); an
approval journals the payment through the same path as a direct confirm and sends it.
Every decision, expiry and cancellation is audited; the cashier and every card are told
through the outbox in that transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from bot.domain.audit import AuditAmount, AuditLimit
from bot.domain.clock import utcnow
from bot.domain.limits import Limits, Usage
from bot.domain.model import (
    Approval,
    ApprovalState,
    Decision,
    DecisionResult,
    Draft,
    Payment,
    Withdrawal,
)
from bot.domain.money import new_id
from bot.infra.loops import BackgroundLoop
from bot.infra.outage import PartDown
from bot.store.approvals import Approvals
from bot.store.audit import AuditLog
from bot.store.db import Database, Tx
from bot.store.drafts import Drafts
from bot.store.payments import Payments
from bot.store.roster import Roster
from bot.usecases.limits import day_of, refusal_in
from bot.usecases.notices import Notices
from bot.usecases.sending import Sender

log = logging.getLogger(__name__)

#: A waiting request's deciders are reminded at most this long before it expires (seconds).
REMINDER_LEAD_MAX = 300.0


class ApprovalDesk:
    def __init__(
        self,
        db: Database,
        sender: Sender,
        notices: Notices,
        *,
        timeout: float,
        limits: Limits | None = None,
        tz: tzinfo = UTC,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.sender = sender
        self.notices = notices
        self.timeout = timeout
        #: The daily limits, checked again for the day an approved top-up is paid on.
        self.limits = limits or Limits()
        self.tz = tz
        self._clock = clock
        #: Set when a new request waits: the sweeper re-plans its next expiry.
        self.added = asyncio.Event()

    # ------------------------------------------------------------------ parts of transactions

    @staticmethod
    def others_can_decide_in(tx: Tx, cashier_id: int) -> bool:
        """Whether an active supervisor or admin other than ``cashier_id`` exists to decide
        that cashier's request (a supervisors' group chat is not one: someone must press)."""
        return any(user_id != cashier_id for user_id in Roster.deciders(tx))

    def request_in(self, tx: Tx, now: datetime, draft: Draft, message_id: int | None) -> Approval:
        """A request for a confirmed draft, in the confirm tap's transaction: with the fee
        of the day, whether the wallet is identified, and the cashier's and the client's day
        so far (what a supervisor decides on, as it was when the cashier asked)."""
        assert draft.amount is not None
        cashier_today, client_today = self._day_so_far(tx, now, draft.cashier_id, draft.login)
        approval = Approval(
            id=new_id(),
            draft_id=draft.id,
            cashier_id=draft.cashier_id,
            chat_id=draft.chat_id,
            message_id=message_id,
            login=draft.login,
            client_name=draft.client_name,
            amount=draft.amount,
            state=ApprovalState.WAITING,
            decided_by=None,
            decided_at=None,
            reason=None,
            guid=None,
            created_at=now,
            expires_at=now + timedelta(seconds=self.timeout),
            fee=self.sender.fee,
            identified=draft.identified,
            cashier_day_amount=cashier_today.amount,
            cashier_day_count=cashier_today.count,
            client_day_amount=client_today.amount,
            client_day_count=client_today.count,
        )
        Approvals.add(tx, approval)
        detail = AuditAmount(approval.amount)
        AuditLog.add(tx, now, draft.cashier_id, "approval.requested", approval.id, detail)
        self.notices.approval_requested(tx, now, approval)
        return approval

    def _day_so_far(
        self, tx: Tx, now: datetime, cashier_id: int, login: str
    ) -> tuple[Usage, Usage]:
        """The local day's top-ups so far by the cashier and to the client: sent (or possibly
        sent) and waiting for approval, as the daily limits count them (declined ones not)."""
        day = day_of(now, self.tz)
        cashier = Payments.usage(tx, "cashier_id", cashier_id, day) + Approvals.usage(
            tx, "cashier_id", cashier_id, day
        )
        client = Payments.usage(tx, "login", login, day) + Approvals.usage(tx, "login", login, day)
        return cashier, client

    async def fill_fees(self) -> None:
        """At start: requests from before the fee was kept get one (see
        :meth:`Approvals.fill_fee`), so an approval pays the fee the cashier was told."""
        fee = self.sender.fee
        filled = await self.db.write(lambda tx: Approvals.fill_fee(tx, fee))
        if filled:
            log.info("%d approval request(s) from before the fee was kept: fee filled in", filled)

    def requested(self) -> None:
        """After the request's commit: the sweeper plans its expiry, the outbox delivers."""
        self.added.set()
        self.notices.wake()

    def close_in(
        self,
        tx: Tx,
        now: datetime,
        approval: Approval,
        state: ApprovalState,
        actor_id: int | None,
        reason: str | None = None,
    ) -> bool:
        """WAITING → ``state`` (once); the cashier and every card are told."""
        if not Approvals.close(tx, now, approval.id, state, actor_id, reason):
            return False
        AuditLog.add(
            tx,
            now,
            actor_id,
            f"approval.{state.value.lower()}",
            approval.id,
            AuditAmount(approval.amount),
        )
        self.notices.approval_closed(tx, now, approval, state)
        return True

    # ------------------------------------------------------------------ decisions

    async def decide(self, approval_id: str, actor_id: int, *, approve: bool) -> DecisionResult:
        """The first supervisor decision wins; approving journals the payment in that step
        and sends it at once.

        The payment is paid on the day it is approved: that day's limits are checked again
        (its payments and waiting requests, this one aside). Over a limit nothing is sent:
        the request ends rejected by the bot, the limit as its reason (the cashier gives the
        cash back), and the supervisor is told what the limit says (REFUSED)."""
        now = self._clock()
        day = day_of(now, self.tz)

        def decide(tx: Tx) -> DecisionResult:
            approval = Approvals.get(tx, approval_id)
            if approval is None:
                return DecisionResult(Decision.NOT_FOUND)
            if approval.state is not ApprovalState.WAITING:
                return DecisionResult(Decision.ALREADY, approval)
            if now >= approval.expires_at:
                self.close_in(tx, now, approval, ApprovalState.EXPIRED, None)
                return DecisionResult(Decision.EXPIRED, Approvals.get(tx, approval_id))
            if actor_id == approval.cashier_id:
                AuditLog.add(tx, now, actor_id, "approval.self_refused", approval_id)
                return DecisionResult(Decision.SELF, approval)
            if approve:
                refusal = refusal_in(
                    tx,
                    self.limits,
                    cashier_id=approval.cashier_id,
                    login=approval.login,
                    amount=approval.amount,
                    day=day,
                    waiting_except=approval.id,
                )
                if refusal is not None:
                    AuditLog.add(
                        tx,
                        now,
                        actor_id,
                        f"limit.{refusal.kind.value}",
                        approval_id,
                        AuditLimit(approval.amount, refusal),
                    )
                    self.close_in(tx, now, approval, ApprovalState.REJECTED, None, refusal.stored())
                    refused = Approvals.get(tx, approval_id)
                    return DecisionResult(Decision.REFUSED, refused, refusal=refusal)
            state = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
            self.close_in(tx, now, approval, state, actor_id)
            payment: Payment | None = None
            if approve:
                draft = Drafts.get(tx, approval.draft_id)
                assert draft is not None
                payment = self.sender.journal_in(
                    tx, now, draft, actor_id, approval.message_id, fee=approval.fee
                )
                Approvals.set_guid(tx, approval_id, payment.guid)
            decision = Decision.APPROVED if approve else Decision.REJECTED
            return DecisionResult(decision, Approvals.get(tx, approval_id), payment)

        try:
            result = await self.db.write(decide)
        except PartDown:
            # Recorded or not, nobody can tell until the journal answers: if it was, the
            # payment holds this process's lease and the cards' messages are queued — the
            # resolver and the outbox, woken, find them then.
            log.warning("approval %s: the journal did not answer the decision", approval_id)
            self.sender.resolver_wakeup.set()
            self.notices.wake()
            return DecisionResult(Decision.UNRECORDED)
        if result.payment is not None:
            log.info(
                "approval %s: approved by %d, sending %s",
                approval_id,
                actor_id,
                result.payment.guid,
            )
            self.sender.send_soon(result.payment)
        elif result.refusal is not None:
            log.info(
                "approval %s: approved by %d, refused by the daily limit %s",
                approval_id,
                actor_id,
                result.refusal.kind.value,
            )
        if result.decision in (
            Decision.APPROVED,
            Decision.REJECTED,
            Decision.EXPIRED,
            Decision.REFUSED,
        ):
            self.notices.wake()
        return result

    async def withdraw(self, approval_id: str, cashier_id: int) -> Withdrawal:
        """The cashier takes a waiting request back: cancelled (audited as theirs), every
        supervisor's card says who withdrew it, nothing is sent."""
        now = self._clock()

        def withdraw(tx: Tx) -> Withdrawal:
            approval = Approvals.get(tx, approval_id)
            if approval is None or approval.cashier_id != cashier_id:
                return Withdrawal.NOT_YOURS
            if not self.close_in(tx, now, approval, ApprovalState.CANCELLED, cashier_id):
                return Withdrawal.TOO_LATE
            return Withdrawal.WITHDRAWN

        outcome = await self.db.write(withdraw)
        if outcome is Withdrawal.WITHDRAWN:
            log.info("approval %s withdrawn by the cashier %d", approval_id, cashier_id)
            self.notices.wake()
        return outcome

    async def set_reason(self, approval_id: str, actor_id: int, reason: str) -> bool:
        """The rejecting supervisor's reason, told to the cashier (once)."""
        now = self._clock()

        def give_reason(tx: Tx) -> bool:
            chat_id = Approvals.set_reason(tx, approval_id, actor_id, reason)
            if chat_id is None:
                return False
            self.notices.approval_notice(tx, now, approval_id, chat_id)
            AuditLog.add(tx, now, actor_id, "approval.reason", approval_id)
            return True

        told = await self.db.write(give_reason)
        if told:
            self.notices.wake()
        return told

    async def expire_due(self, now: datetime | None = None) -> int:
        moment = now or self._clock()

        def expire(tx: Tx) -> int:
            due = Approvals.expired(tx, moment)
            for approval in due:
                self.close_in(tx, moment, approval, ApprovalState.EXPIRED, None)
            return len(due)

        expired = await self.db.write(expire)
        if expired:
            log.warning("%d approval request(s) expired without a decision", expired)
            self.notices.wake()
        return expired

    @property
    def reminder_lead(self) -> timedelta:
        """How long before its expiry the deciders are reminded of a waiting request: a
        third of APPROVAL_TIMEOUT, at most five minutes."""
        return timedelta(seconds=min(self.timeout / 3, REMINDER_LEAD_MAX))

    async def remind_due(self, now: datetime | None = None) -> int:
        """Requests expiring within :attr:`reminder_lead` whose deciders were not reminded:
        one reminder per card's chat, queued with the mark that it was — once, across
        restarts."""
        moment = now or self._clock()

        def remind(tx: Tx) -> int:
            due = Approvals.remind(tx, moment, moment + self.reminder_lead)
            for approval in due:
                self.notices.approval_expires_soon(tx, moment, approval)
            return len(due)

        reminded = await self.db.write(remind)
        if reminded:
            log.info("%d approval request(s) expire soon: the deciders are reminded", reminded)
            self.notices.wake()
        return reminded

    # ------------------------------------------------------------------ reads

    async def next_due(self) -> datetime | None:
        """The sweeper's next moment: the earliest expiry, or reminder, still to come."""
        expiry, unreminded = await self.db.read(
            lambda tx: (Approvals.next_expiry(tx), Approvals.next_unreminded_expiry(tx))
        )
        moments = [expiry] if expiry is not None else []
        if unreminded is not None:
            moments.append(unreminded - self.reminder_lead)
        return min(moments, default=None)

    async def get(self, approval_id: str) -> Approval | None:
        return await self.db.read(lambda tx: Approvals.get(tx, approval_id))

    async def waiting(self) -> list[Approval]:
        return await self.db.read(Approvals.waiting)

    async def view(
        self, approval_id: str, chat_id: int
    ) -> tuple[Approval | None, int | None, dict[int, str]]:
        """What a card needs: the request, its card in ``chat_id``, and people's names."""
        return await self.db.read(
            lambda tx: (
                Approvals.get(tx, approval_id),
                Approvals.card_message(tx, approval_id, chat_id),
                Roster.names(tx),
            )
        )

    async def card_sent(self, approval_id: str, chat_id: int, message_id: int) -> Approval | None:
        """A card was sent: remember it, and return the request as it is now (it may have
        been decided while the card was on its way)."""

        def record(tx: Tx) -> Approval | None:
            Approvals.record_card(tx, approval_id, chat_id, message_id)
            return Approvals.get(tx, approval_id)

        return await self.db.write(record)


class ApprovalSweeper(BackgroundLoop):
    """Reminds the deciders of a request that expires soon (once), and expires approval
    requests nobody decided within APPROVAL_TIMEOUT."""

    name = "approvals"

    def __init__(
        self,
        desk: ApprovalDesk,
        *,
        clock: Callable[[], datetime] = utcnow,
        idle: float = 60.0,
    ) -> None:
        super().__init__(clock=clock, idle=idle)
        self.desk = desk
        self.wakeup = desk.added

    async def next_due(self) -> datetime | None:
        return await self.desk.next_due()

    async def run_once(self) -> int:
        now = self._clock()
        return await self.desk.expire_due(now) + await self.desk.remind_due(now)
