"""Money controls: daily limits, supervisor approval above a threshold, blocking people.

Every check that guards money runs inside the same write transaction as the step it guards
(BEGIN IMMEDIATE on the one connection), so two concurrent confirms cannot both slip under a
limit and two supervisors cannot both decide. Every refusal, decision, expiry and block is
audited; everyone who must hear of it is told through the outbox in that transaction.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import aiosqlite

from bot.loops import BackgroundLoop
from bot.payments.db import parse_ts, ts, utcnow
from bot.payments.journal import (
    Journal,
    OutboxKind,
    Payment,
    Role,
    RosterChange,
    from_tiyn,
    to_tiyn,
)

log = logging.getLogger(__name__)

#: How far back /cancel looks for top-ups already sent, to say they cannot be cancelled.
RECENT = timedelta(minutes=15)

#: Statuses that use up a day's limit: sent or possibly sent. DECLINED does not.
_USING = ("NEW", "PENDING", "COMPLETED", "UNKNOWN")


class LimitKind(StrEnum):
    CASHIER_COUNT = "cashier_count"
    CASHIER_SUM = "cashier_sum"
    CLIENT_SUM = "client_sum"


@dataclass(frozen=True, slots=True)
class Limits:
    """Zero switches a control off."""

    cashier_daily_sum: Decimal = Decimal(0)
    cashier_daily_count: int = 0
    client_daily_sum: Decimal = Decimal(0)
    approval_threshold: Decimal = Decimal(0)
    approval_timeout: float = 900.0

    def needs_approval(self, amount: Decimal) -> bool:
        return self.approval_threshold > 0 and amount >= self.approval_threshold


@dataclass(frozen=True, slots=True)
class LimitRefusal:
    kind: LimitKind
    limit: Decimal  # tenge, or a count for CASHIER_COUNT
    left: Decimal


class ApprovalState(StrEnum):
    WAITING = "WAITING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    draft_id: str
    cashier_id: int
    chat_id: int
    message_id: int | None
    login: str
    client_name: str
    amount: Decimal
    state: ApprovalState
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
    guid: str | None
    created_at: datetime
    expires_at: datetime


_APPROVAL_COLUMNS = (
    "id, draft_id, cashier_id, chat_id, message_id, login, client_name, amount_tiyn, state, "
    "decided_by, decided_at, reason, guid, created_at, expires_at"
)


def _approval(row: Sequence[Any]) -> Approval:
    return Approval(
        id=row[0],
        draft_id=row[1],
        cashier_id=row[2],
        chat_id=row[3],
        message_id=row[4],
        login=row[5],
        client_name=row[6],
        amount=from_tiyn(row[7]),
        state=ApprovalState(row[8]),
        decided_by=row[9],
        decided_at=parse_ts(row[10]) if row[10] else None,
        reason=row[11],
        guid=row[12],
        created_at=parse_ts(row[13]),
        expires_at=parse_ts(row[14]),
    )


class ConfirmOutcome(StrEnum):
    PAID = "paid"  # a NEW payment is journaled: send it
    REFUSED = "refused"  # over a limit: nothing journaled, the card stays open
    AWAITING = "awaiting"  # waits for a supervisor: nothing is sent yet
    STALE = "stale"  # the card was not open (tapped before, cancelled, someone else's)
    NOT_THIS_CARD = "not_this_card"  # the button was pressed on a message that is not its card


@dataclass(frozen=True, slots=True)
class Confirmation:
    outcome: ConfirmOutcome
    payment: Payment | None = None
    refusal: LimitRefusal | None = None
    approval: Approval | None = None


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    ALREADY = "already"  # someone decided first (or it was cancelled)
    EXPIRED = "expired"
    SELF = "self"  # a cashier cannot approve their own payment
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class DecisionResult:
    decision: Decision
    approval: Approval | None = None
    payment: Payment | None = None


class Controls:
    def __init__(
        self, journal: Journal, limits: Limits, *, on_change: Callable[[], None] = lambda: None
    ) -> None:
        self.journal = journal
        self.db = journal.db
        self.limits = limits
        #: Called after a commit that queued messages (the outbox's wake-up).
        self.on_change = on_change
        #: Set when a new approval request waits: the sweeper re-plans its next expiry.
        self.approval_added = asyncio.Event()

    # ------------------------------------------------------------------ limits

    async def _usage(
        self,
        conn: aiosqlite.Connection,
        column: Literal["cashier_id", "login"],
        value: object,
        day: tuple[datetime, datetime],
    ) -> tuple[Decimal, int]:
        """Sum and count used in the day by ``column = value``: payments that are (or may be)
        sent, and amounts waiting for approval."""
        start, end = ts(day[0]), ts(day[1])
        total, count = 0, 0
        for query in (
            f"SELECT COALESCE(SUM(amount_tiyn), 0), COUNT(*) FROM payments WHERE {column} = ? "
            f"AND created_at >= ? AND created_at < ? AND status IN {_USING!r}",
            f"SELECT COALESCE(SUM(amount_tiyn), 0), COUNT(*) FROM approvals WHERE {column} = ? "
            "AND created_at >= ? AND created_at < ? AND state = 'WAITING'",
        ):
            async with conn.execute(query, (value, start, end)) as cur:
                row = await cur.fetchone()
            assert row is not None
            total += int(row[0])
            count += int(row[1])
        return from_tiyn(total), count

    async def _refusal_in(
        self,
        conn: aiosqlite.Connection,
        cashier_id: int,
        login: str,
        amount: Decimal,
        day: tuple[datetime, datetime],
    ) -> LimitRefusal | None:
        limits = self.limits
        if limits.cashier_daily_count or limits.cashier_daily_sum:
            used, count = await self._usage(conn, "cashier_id", cashier_id, day)
            if limits.cashier_daily_count and count + 1 > limits.cashier_daily_count:
                left = Decimal(max(0, limits.cashier_daily_count - count))
                return LimitRefusal(
                    LimitKind.CASHIER_COUNT, Decimal(limits.cashier_daily_count), left
                )
            if limits.cashier_daily_sum and used + amount > limits.cashier_daily_sum:
                left = max(Decimal(0), limits.cashier_daily_sum - used)
                return LimitRefusal(LimitKind.CASHIER_SUM, limits.cashier_daily_sum, left)
        if limits.client_daily_sum:
            used, _count = await self._usage(conn, "login", login, day)
            if used + amount > limits.client_daily_sum:
                left = max(Decimal(0), limits.client_daily_sum - used)
                return LimitRefusal(LimitKind.CLIENT_SUM, limits.client_daily_sum, left)
        return None

    async def limit_refusal(
        self, cashier_id: int, login: str, amount: Decimal, day: tuple[datetime, datetime]
    ) -> LimitRefusal | None:
        """The early check, when the amount is typed (confirm checks again, atomically)."""
        async with self.db.read() as conn:
            return await self._refusal_in(conn, cashier_id, login, amount, day)

    # ------------------------------------------------------------------ confirm

    async def confirm(
        self,
        draft_id: str,
        cashier_id: int,
        *,
        requester: str,
        message_id: int | None,
        first_attempt_at: datetime,
        day: tuple[datetime, datetime],
        chat_id: int | None = None,
    ) -> Confirmation:
        """The cashier's confirm tap: limits, then approval or a journaled payment — atomically."""
        now = utcnow()
        async with self.db.tx() as conn:
            async with conn.execute(
                "SELECT login, amount_tiyn, chat_id, client_name, card_message_id FROM drafts "
                "WHERE id = ? AND cashier_id = ? AND state = 'OPEN'",
                (draft_id, cashier_id),
            ) as cur:
                draft = await cur.fetchone()
            if draft is None:
                return Confirmation(ConfirmOutcome.STALE)
            # The card is recorded once shown (a crash may come first: then the button's
            # presence on the pressed message, checked before any handler, is the proof).
            if chat_id != draft[2] or (draft[4] is not None and draft[4] != message_id):
                return Confirmation(ConfirmOutcome.NOT_THIS_CARD)
            login, amount = str(draft[0]), from_tiyn(draft[1])
            refusal = await self._refusal_in(conn, cashier_id, login, amount, day)
            if refusal is not None:
                await self.journal.audit_in(
                    conn,
                    cashier_id,
                    f"limit.{refusal.kind.value}",
                    draft_id,
                    f"amount {amount}, limit {refusal.limit}, left {refusal.left}",
                )
                return Confirmation(ConfirmOutcome.REFUSED, refusal=refusal)
            if not await self.journal.take_draft_in(conn, draft_id, cashier_id):
                return Confirmation(ConfirmOutcome.STALE)
            if self.limits.needs_approval(amount):
                approval_id = secrets.token_urlsafe(9)
                expires = now + timedelta(seconds=self.limits.approval_timeout)
                await conn.execute(
                    f"INSERT INTO approvals ({_APPROVAL_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, 'WAITING', NULL, NULL, NULL, NULL, ?, ?)",
                    (
                        approval_id,
                        draft_id,
                        cashier_id,
                        draft[2],
                        message_id,
                        login,
                        draft[3],
                        to_tiyn(amount),
                        ts(now),
                        ts(expires),
                    ),
                )
                await self.journal.audit_in(
                    conn, cashier_id, "approval.requested", approval_id, f"amount {amount}"
                )
                # The cashier's card turns into the waiting notice through the outbox, in
                # order before anything a supervisor's decision enqueues: a fast decision can
                # never be overwritten by a late "waiting".
                await self.journal.enqueue_in(
                    conn, OutboxKind.APPROVAL_NOTICE, int(draft[2]), None, now, ref=approval_id
                )
                for chat_id in await self._approvers_in(conn):
                    await self.journal.enqueue_in(
                        conn, OutboxKind.APPROVAL_REQUEST, chat_id, None, now, ref=approval_id
                    )
                approval = await self._get_in(conn, approval_id)
                self.approval_added.set()  # the sweeper re-plans (it reads after this commit)
                return Confirmation(ConfirmOutcome.AWAITING, approval=approval)
            guid = await self.journal.create_payment_in(
                conn,
                draft_id,
                cashier_id,
                requester=requester,
                message_id=message_id,
                first_attempt_at=first_attempt_at,
            )
            # The card turns into the payment's status message through the outbox, its only
            # writer: "⏳ sending" can never land over a ✅ that came first.
            await self.journal.enqueue_in(conn, OutboxKind.STATUS, int(draft[2]), guid, now)
        payment = await self.journal.get_payment(guid)
        return Confirmation(ConfirmOutcome.PAID, payment=payment)

    # ------------------------------------------------------------------ approvals

    async def _approvers_in(self, conn: aiosqlite.Connection) -> list[int]:
        """Supervisor chats and every active supervisor's private chat."""
        async with conn.execute(
            "SELECT user_id FROM users WHERE role = ? AND blocked = 0 AND removed_at IS NULL "
            "ORDER BY user_id",
            (Role.SUPERVISOR.value,),
        ) as cur:
            users = [int(r[0]) for r in await cur.fetchall()]
        return list(dict.fromkeys([*self.journal.supervisor_chat_ids, *users]))

    @staticmethod
    async def _get_in(conn: aiosqlite.Connection, approval_id: str) -> Approval | None:
        async with conn.execute(
            f"SELECT {_APPROVAL_COLUMNS} FROM approvals WHERE id = ?", (approval_id,)
        ) as cur:
            row = await cur.fetchone()
        return _approval(row) if row else None

    async def get(self, approval_id: str) -> Approval | None:
        async with self.db.read() as conn:
            return await self._get_in(conn, approval_id)

    async def approval_for_draft(self, draft_id: str) -> Approval | None:
        async with (
            self.db.read() as conn,
            conn.execute(
                f"SELECT {_APPROVAL_COLUMNS} FROM approvals WHERE draft_id = ?", (draft_id,)
            ) as cur,
        ):
            row = await cur.fetchone()
        return _approval(row) if row else None

    async def waiting(self) -> list[Approval]:
        async with (
            self.db.read() as conn,
            conn.execute(
                f"SELECT {_APPROVAL_COLUMNS} FROM approvals WHERE state = 'WAITING' "
                "ORDER BY created_at"
            ) as cur,
        ):
            return [_approval(r) for r in await cur.fetchall()]

    async def card_message(self, approval_id: str, chat_id: int) -> int | None:
        async with (
            self.db.read() as conn,
            conn.execute(
                "SELECT message_id FROM approval_cards WHERE approval_id = ? AND chat_id = ?",
                (approval_id, chat_id),
            ) as cur,
        ):
            row = await cur.fetchone()
        return int(row[0]) if row else None

    async def record_card(self, approval_id: str, chat_id: int, message_id: int) -> None:
        async with self.db.tx() as conn:
            await conn.execute(
                "INSERT INTO approval_cards (approval_id, chat_id, message_id) VALUES (?, ?, ?) "
                "ON CONFLICT DO UPDATE SET message_id = excluded.message_id",
                (approval_id, chat_id, message_id),
            )

    async def _close_in(
        self,
        conn: aiosqlite.Connection,
        approval: Approval,
        state: ApprovalState,
        actor_id: int | None,
        now: datetime,
    ) -> bool:
        """WAITING → ``state`` (once); the cashier and every card are told."""
        cur = await conn.execute(
            "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ? "
            "WHERE id = ? AND state = 'WAITING'",
            (state.value, actor_id, ts(now), approval.id),
        )
        if cur.rowcount != 1:
            return False
        await self.journal.audit_in(
            conn,
            actor_id,
            f"approval.{state.value.lower()}",
            approval.id,
            f"amount {approval.amount}",
        )
        async with conn.execute(
            "SELECT chat_id FROM approval_cards WHERE approval_id = ?", (approval.id,)
        ) as cards:
            for (chat_id,) in await cards.fetchall():
                await self.journal.enqueue_in(
                    conn, OutboxKind.APPROVAL_CARD, int(chat_id), None, now, ref=approval.id
                )
        if state is not ApprovalState.APPROVED:
            await self.journal.enqueue_in(
                conn, OutboxKind.APPROVAL_NOTICE, approval.chat_id, None, now, ref=approval.id
            )
        return True

    async def decide(
        self,
        approval_id: str,
        actor_id: int,
        *,
        approve: bool,
        requester: str,
        first_attempt_at: datetime,
    ) -> DecisionResult:
        """The first supervisor decision wins; approving journals the payment in that step."""
        now = utcnow()
        async with self.db.tx() as conn:
            approval = await self._get_in(conn, approval_id)
            if approval is None:
                return DecisionResult(Decision.NOT_FOUND)
            if approval.state is not ApprovalState.WAITING:
                return DecisionResult(Decision.ALREADY, approval)
            if now >= approval.expires_at:
                await self._close_in(conn, approval, ApprovalState.EXPIRED, None, now)
                return DecisionResult(Decision.EXPIRED, await self._get_in(conn, approval_id))
            if actor_id == approval.cashier_id:
                await self.journal.audit_in(conn, actor_id, "approval.self_refused", approval_id)
                return DecisionResult(Decision.SELF, approval)
            state = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
            await self._close_in(conn, approval, state, actor_id, now)
            guid = None
            if approve:
                guid = await self.journal.create_payment_in(
                    conn,
                    approval.draft_id,
                    actor_id,
                    requester=requester,
                    message_id=approval.message_id,
                    first_attempt_at=first_attempt_at,
                )
                await conn.execute(
                    "UPDATE approvals SET guid = ? WHERE id = ?", (guid, approval_id)
                )
                # The cashier's card becomes the payment's status message.
                await self.journal.enqueue_in(conn, OutboxKind.STATUS, approval.chat_id, guid, now)
            decided = await self._get_in(conn, approval_id)
        payment = await self.journal.get_payment(guid) if guid else None
        decision = Decision.APPROVED if approve else Decision.REJECTED
        return DecisionResult(decision, decided, payment)

    async def set_reason(self, approval_id: str, actor_id: int, reason: str) -> bool:
        """The rejecting supervisor's reason, told to the cashier (once)."""
        now = utcnow()
        async with self.db.tx() as conn:
            async with conn.execute(
                "SELECT chat_id FROM approvals WHERE id = ? AND state = 'REJECTED' "
                "AND decided_by = ? AND reason IS NULL",
                (approval_id, actor_id),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return False
            await conn.execute(
                "UPDATE approvals SET reason = ? WHERE id = ?", (reason[:500], approval_id)
            )
            await self.journal.enqueue_in(
                conn, OutboxKind.APPROVAL_NOTICE, int(row[0]), None, now, ref=approval_id
            )
            await self.journal.audit_in(conn, actor_id, "approval.reason", approval_id)
            return True

    async def expire_due(self, now: datetime | None = None) -> int:
        now = now or utcnow()
        async with self.db.tx() as conn:
            async with conn.execute(
                f"SELECT {_APPROVAL_COLUMNS} FROM approvals WHERE state = 'WAITING' "
                "AND expires_at <= ?",
                (ts(now),),
            ) as cur:
                due = [_approval(r) for r in await cur.fetchall()]
            for approval in due:
                await self._close_in(conn, approval, ApprovalState.EXPIRED, None, now)
        if due:
            log.warning("%d approval request(s) expired without a decision", len(due))
        return len(due)

    async def next_expiry(self) -> datetime | None:
        async with (
            self.db.read() as conn,
            conn.execute("SELECT MIN(expires_at) FROM approvals WHERE state = 'WAITING'") as cur,
        ):
            row = await cur.fetchone()
        return parse_ts(row[0]) if row and row[0] else None

    # ------------------------------------------------------------------ ending a person's work

    async def end_work_in(
        self, conn: aiosqlite.Connection, user_id: int, actor_id: int, now: datetime
    ) -> int:
        """The one rule for whatever ends a person's work — their /cancel, /remove, /block:
        their open cards close and their approval requests still waiting are cancelled, so
        no supervisor can approve them afterwards; the supervisors' cards and the person's
        own card say so (through the outbox, in this transaction). Payments already sent are
        not touched: they still reach Allpay's final word. Returns what was ended."""
        ended = await self.journal.cancel_drafts_in(conn, user_id)
        async with conn.execute(
            f"SELECT {_APPROVAL_COLUMNS} FROM approvals WHERE cashier_id = ? AND state = 'WAITING'",
            (user_id,),
        ) as cur:
            waiting = [_approval(r) for r in await cur.fetchall()]
        for approval in waiting:
            ended += await self._close_in(conn, approval, ApprovalState.CANCELLED, actor_id, now)
        return ended

    async def end_work(self, user_id: int) -> list[Payment]:
        """The person's own /cancel: ends what can be ended, and returns what cannot — their
        top-ups of the last :data:`RECENT` already sent to Allpay (or approved and sent), so
        the cashier is never told "nothing was sent" while money moved."""
        now = utcnow()
        async with self.db.tx() as conn:
            await self.end_work_in(conn, user_id, user_id, now)
            sent = await self.journal.sent_since_in(conn, user_id, now - RECENT)
        self.on_change()
        return sent

    async def remove_user(
        self, actor_id: int, user_id: int, *, configured_admins: Iterable[int] = ()
    ) -> RosterChange:
        """Remove from the roster and end everything the person had open, in one step."""
        try:
            async with self.db.tx() as conn:
                change = await self.journal.remove_user_in(
                    conn, actor_id, user_id, configured_admins=configured_admins
                )
                if change is RosterChange.REMOVED:
                    await self.end_work_in(conn, user_id, actor_id, utcnow())
            self.on_change()
            return change
        finally:
            self.journal.roster_changed()

    async def set_blocked(
        self,
        actor_id: int,
        user_id: int,
        blocked: bool,
        *,
        configured_admins: Iterable[int] = (),
    ) -> RosterChange:
        """Block: the next update is refused and the person's open work ends at once.
        Payments already sent are not touched: they still reach a final status."""
        try:
            change = await self._set_blocked(actor_id, user_id, blocked, configured_admins)
            self.on_change()
            return change
        finally:
            self.journal.roster_changed()

    async def _set_blocked(
        self, actor_id: int, user_id: int, blocked: bool, configured_admins: Iterable[int]
    ) -> RosterChange:
        now = utcnow()
        async with self.db.tx() as conn:
            async with conn.execute(
                "SELECT role, blocked FROM users WHERE user_id = ? AND removed_at IS NULL",
                (user_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return RosterChange.NOT_FOUND
            if bool(row[1]) == blocked:
                return RosterChange.UNCHANGED
            if blocked:
                refusal = await self.journal.admin_guard_in(
                    conn, user_id, Role(row[0]), configured_admins
                )
                if refusal is not None:
                    return refusal
            await conn.execute(
                "UPDATE users SET blocked = ?, updated_at = ? WHERE user_id = ?",
                (int(blocked), ts(now), user_id),
            )
            change = RosterChange.BLOCKED if blocked else RosterChange.UNBLOCKED
            await self.journal.audit_in(conn, actor_id, f"roster.{change.value}", str(user_id))
            if blocked:
                await self.end_work_in(conn, user_id, actor_id, now)
            return change


class ApprovalSweeper(BackgroundLoop):
    """Expires approval requests nobody decided within APPROVAL_TIMEOUT."""

    name = "approvals"

    def __init__(
        self,
        controls: Controls,
        *,
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        idle: float = 60.0,
    ) -> None:
        super().__init__(clock=clock, idle=idle)
        self.controls = controls
        self._on_change = on_change
        self.wakeup = controls.approval_added

    async def next_due(self) -> datetime | None:
        return await self.controls.next_expiry()

    async def run_once(self) -> int:
        expired = await self.controls.expire_due(self._clock())
        if expired:
            self._on_change()
        return expired
