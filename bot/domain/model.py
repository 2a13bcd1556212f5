"""People, drafts, payments, approvals and notices: the bot's vocabulary. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from bot.domain.limits import LimitRefusal, Usage


class Status(StrEnum):
    NEW = "NEW"  # journaled; nothing known from Allpay yet
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    DECLINED = "DECLINED"
    UNKNOWN = "UNKNOWN"  # gave up resending: needs manual reconciliation

    @property
    def is_final(self) -> bool:
        """No more resends. UNKNOWN is final only until a supervisor's /recheck: Allpay's
        COMPLETED or DECLINED may replace it then (COMPLETED and DECLINED never change)."""
        return self in (Status.COMPLETED, Status.DECLINED, Status.UNKNOWN)

    @property
    def icon(self) -> str:
        return {"COMPLETED": "✅", "DECLINED": "❌", "UNKNOWN": "⚠️"}.get(self.value, "⏳")


#: Without Allpay's final word yet: the resolver resends these.
OPEN_STATUSES = (Status.NEW, Status.PENDING)
#: Statuses that use up a day's limit: sent or possibly sent. DECLINED does not.
USING_LIMITS = (Status.NEW, Status.PENDING, Status.COMPLETED, Status.UNKNOWN)


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    CASHIER = "cashier"

    @property
    def sees_everyone(self) -> bool:
        return self in (Role.ADMIN, Role.SUPERVISOR)

    @property
    def rank(self) -> int:
        """Cashier < supervisor < admin: a role may do what every lower role may."""
        return {Role.CASHIER: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}[self]


class RosterChange(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    RENAMED = "renamed"  # the same role, another name
    UNCHANGED = "unchanged"
    REMOVED = "removed"
    NOT_FOUND = "not_found"
    LAST_ADMIN = "last_admin"  # would leave the bot without an admin
    CONFIGURED_ADMIN = "configured_admin"  # in ADMIN_IDS: it would come back at the next start


@dataclass(frozen=True, slots=True)
class StaffUser:
    user_id: int
    role: Role
    name: str | None
    blocked: bool

    @property
    def has_desk(self) -> bool:
        """The desk (WEBAPP_URL) is theirs: an active supervisor or admin."""
        return self.role.sees_everyone and not self.blocked


class DraftState(StrEnum):
    LOGIN = "LOGIN"  # the typed login; the client is not known yet
    CLIENT = "CLIENT"  # Allpay knows the client; the amount is next
    OPEN = "OPEN"  # the confirmation card is shown
    CONFIRMED = "CONFIRMED"  # a payment (or an approval request) was made from it
    CANCELLED = "CANCELLED"

    @property
    def unfinished(self) -> bool:
        return self in (DraftState.LOGIN, DraftState.CLIENT, DraftState.OPEN)


@dataclass(frozen=True, slots=True)
class Draft:
    id: str
    cashier_id: int
    chat_id: int
    login: str
    client_name: str
    identified: bool
    amount: Decimal | None  # None until the amount step (states LOGIN and CLIENT)
    lang: str
    state: DraftState
    guid: str | None
    card_message_id: int | None = None  # the confirmation card its buttons belong to
    masked_iin: str | None = None  # as Allpay's answer masks it; the IIN itself is never kept


@dataclass(frozen=True, slots=True)
class Payment:
    guid: str
    draft_id: str | None
    requester: str
    cashier_id: int
    chat_id: int
    message_id: int | None
    login: str
    client_name: str
    amount: Decimal
    lang: str
    status: Status
    attempts: int
    last_error: str | None
    user_message: str | None
    developer_message: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    final_at: datetime | None
    alerted_at: datetime | None
    receipt_no: int | None = None
    #: The agent's fee, fixed when the payment was journaled (``CASHIN_FEE``): the client
    #: hands over ``amount + fee``; the wallet gets ``amount``.
    fee: Decimal = Decimal(0)
    #: When a supervisor's /recheck put an UNKNOWN payment back with the resolver: its give-up
    #: horizon counts from here.
    rechecked_at: datetime | None = None

    @property
    def resolving_since(self) -> datetime:
        """Where the resolver's alert and give-up horizons start."""
        return self.rechecked_at or self.created_at

    @property
    def cash(self) -> Decimal:
        """The cash the cashier takes from the client for this top-up."""
        return self.amount + self.fee


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a payment without Allpay's final word is resent: backoff between sends, one alert
    after ``alert_after`` seconds, UNKNOWN after ``give_up_after`` (all in seconds)."""

    retry_min: float
    retry_max: float
    alert_after: float
    give_up_after: float

    def delay(self, attempts: int) -> float:
        """Backoff before the next resend after ``attempts`` sends: min·2^(n-1), capped."""
        exponent = max(0, min(attempts - 1, 30))
        return float(min(self.retry_max, self.retry_min * (2**exponent)))


class OutboxKind(StrEnum):
    STATUS = "status"  # the cashier's status message: edit it (or send anew)
    FINAL = "final"  # a supervisor chat: a payment became final
    ALERT = "alert"  # a supervisor chat: a payment is stuck pending
    DIGEST = "digest"  # a supervisor chat: the day's totals (ref: the local day)
    APPROVAL_REQUEST = "approval"  # a supervisor: approve/reject card (ref: approval id)
    APPROVAL_CARD = "approval_card"  # a supervisor: edit the card to its decision
    APPROVAL_NOTICE = "approval_notice"  # the cashier: waiting / rejected / expired / cancelled
    APPROVAL_REMINDER = "approval_reminder"  # a decider's chat: the request expires soon
    HANDOVER_REQUEST = "handover"  # a supervisor: received / other amount / not received
    HANDOVER_CARD = "handover_card"  # a supervisor: edit the card to its answer
    HANDOVER_NOTICE = "handover_notice"  # the cashier: what became of their handover
    BALANCE = "balance"  # a supervisor: the agent's balance fell below the mark, or is back
    #: A person's private chat: its menu button as their role says now — the desk's, or
    #: Telegram's default (ref: which desk address it was queued for,
    #: ``bot.usecases.notices.desk_ref``).
    MENU_BUTTON = "menu_button"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: OutboxKind
    chat_id: int
    guid: str | None
    attempts: int
    ref: str | None = None
    progress: int = 0  # parts of a multi-part message already delivered


@dataclass(frozen=True, slots=True)
class Totals:
    """One cashier's payments of one status in a period."""

    cashier_id: int
    status: Status
    count: int
    amount: Decimal


# ---------------------------------------------------------------- approvals


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
    #: The agent's fee when it was asked (``CASHIN_FEE``): the cash taken is amount + fee.
    fee: Decimal = Decimal(0)
    #: Whether Allpay said the wallet is identified (None: asked before this was kept).
    identified: bool | None = None
    #: The day's usage before this request, as the limits count it (sent or possibly sent,
    #: and requests waiting): the cashier's and the client's (None: not kept then).
    cashier_day_amount: Decimal | None = None
    cashier_day_count: int | None = None
    client_day_amount: Decimal | None = None
    client_day_count: int | None = None
    #: When the deciders were reminded that it expires soon (once).
    reminded_at: datetime | None = None

    @property
    def cash(self) -> Decimal:
        """The cash the cashier took from the client for this request."""
        return self.amount + self.fee

    @property
    def cashier_today(self) -> Usage | None:
        if self.cashier_day_amount is None or self.cashier_day_count is None:
            return None
        return Usage(self.cashier_day_amount, self.cashier_day_count)

    @property
    def client_today(self) -> Usage | None:
        if self.client_day_amount is None or self.client_day_count is None:
            return None
        return Usage(self.client_day_amount, self.client_day_count)

    @property
    def limit_refusal(self) -> LimitRefusal | None:
        """Refused at approval by the daily limits of the day it would have been paid on
        (rejected by the bot itself, the limit as its reason)."""
        if self.state is not ApprovalState.REJECTED or self.decided_by is not None:
            return None
        return LimitRefusal.from_stored(self.reason)


class ConfirmOutcome(StrEnum):
    PAID = "paid"  # a NEW payment is journaled and being sent
    REFUSED = "refused"  # over a limit: nothing journaled, the card stays open
    AWAITING = "awaiting"  # waits for a supervisor: nothing is sent yet
    STALE = "stale"  # the card was not open (tapped before, cancelled, someone else's)
    NOT_THIS_CARD = "not_this_card"  # the button was pressed on a message that is not its card
    #: Needs an approval nobody but the cashier could give now (the last other supervisor or
    #: admin went since the card): nothing journaled, no request left to expire.
    NO_DECIDER = "no_decider"
    #: The journal did not answer: nothing was sent now. Its COMMIT may have landed all the
    #: same (the answer lost): then the resolver sends that GUID and the card shows it.
    UNRECORDED = "unrecorded"


@dataclass(frozen=True, slots=True)
class Confirmation:
    outcome: ConfirmOutcome
    payment: Payment | None = None
    refusal: LimitRefusal | None = None
    approval: Approval | None = None


@dataclass(frozen=True, slots=True)
class WorkEnded:
    """What a person's own /cancel ended, and what it could not."""

    #: Unfinished top-ups (drafts) cancelled; cards among them that had said to take cash.
    top_ups: int = 0
    cards: tuple[tuple[int, int], ...] = ()  # (chat, message) of those cards
    cash_asked: bool = False
    requests: int = 0  # approval requests withdrawn
    handovers: int = 0  # cash handovers withdrawn
    #: Already sent to Allpay and still without its final word (⏳, ⚠️): not cancellable.
    unfinished: tuple[Payment, ...] = ()

    @property
    def anything(self) -> bool:
        return bool(self.top_ups or self.requests or self.handovers or self.unfinished)


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    ALREADY = "already"  # someone decided first (or it was cancelled)
    EXPIRED = "expired"
    SELF = "self"  # a cashier cannot approve their own payment
    NOT_FOUND = "not_found"
    #: Approving would cross a daily limit of the day it is paid on: refused, nothing sent.
    REFUSED = "refused"
    #: The journal did not answer: whether the decision was recorded is not known yet (the
    #: cards show it once it answers; an approval recorded is sent by the resolver).
    UNRECORDED = "unrecorded"


class Withdrawal(StrEnum):
    WITHDRAWN = "withdrawn"  # the request is cancelled: nothing will be sent
    TOO_LATE = "too_late"  # decided, expired or cancelled before
    NOT_YOURS = "not_yours"  # only the cashier who asked may withdraw


@dataclass(frozen=True, slots=True)
class DecisionResult:
    decision: Decision
    approval: Approval | None = None
    payment: Payment | None = None
    refusal: LimitRefusal | None = None  # REFUSED: what the limit says
