"""The paper money: what each cashier holds from completed top-ups, and its handover to a
supervisor. No I/O.

A cashier's **cash on hand** is the cash accepted (amount + fee) of their COMPLETED top-ups
since their last confirmed handover. A handover covers every receipt numbered up to the
journal's highest at the moment it is declared (receipt numbers are given in completion
order, so a top-up completed later — a late ⏳, a /recheck — belongs to the next period).
The supervisor's count is what was received: the **variance** (received − expected) stays
open on the cashier — a shortage owed, a surplus held for them — until a supervisor writes it
off with a reason. A confirmed handover never changes: a correction is a new entry.

Cash is counted from the version that brought handovers: the upgrade opens each cashier's
count after their last receipt (an OPENING entry, never shown), so the history collected
before is not suddenly "on hand".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from bot.domain.model import Payment


class HandoverState(StrEnum):
    DECLARED = "DECLARED"  # the cashier counted it; no supervisor has answered yet
    CONFIRMED = "CONFIRMED"  # a supervisor received it: final, immutable
    DISPUTED = "DISPUTED"  # the supervisor received nothing: the cash stays on the cashier
    WITHDRAWN = "WITHDRAWN"  # the cashier took it back, or their work ended


@dataclass(frozen=True, slots=True)
class Handover:
    id: int  # the handover's number, shown as "#12"
    cashier_id: int
    chat_id: int | None  # the cashier's chat (None: recorded on the cashier's behalf)
    message_id: int | None  # the cashier's declaration message
    receiver_id: int | None  # the supervisor the cashier chose (None: any)
    state: HandoverState
    upto_receipt: int  # covers the cashier's receipts numbered up to this
    expected: Decimal  # cash accepted of the top-ups it covers
    #: Cash the cashier kept back for top-ups without Allpay's final answer (not part of it).
    pending: Decimal
    declared: Decimal | None  # what the cashier counted (None: recorded on their behalf)
    received: Decimal | None  # what the supervisor counted
    decided_by: int | None
    created_at: datetime
    decided_at: datetime | None
    written_off_by: int | None = None
    written_off_at: datetime | None = None
    write_off_reason: str | None = None

    @property
    def variance(self) -> Decimal:
        """Received − expected: below zero a shortage, above a surplus (0 until received)."""
        if self.received is None:
            return Decimal(0)
        return self.received - self.expected

    @property
    def open_variance(self) -> bool:
        """A variance no supervisor has written off yet."""
        return (
            self.state is HandoverState.CONFIRMED
            and self.variance != 0
            and self.written_off_at is None
        )


class HandoverOutcome(StrEnum):
    DECLARED = "declared"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"
    WITHDRAWN = "withdrawn"
    RECORDED = "recorded"  # by a supervisor, on the cashier's behalf
    WRITTEN_OFF = "written_off"
    ALREADY = "already"  # someone answered first (or it was withdrawn)
    SELF = "self"  # a supervisor's own cash: another supervisor must receive it
    OPEN = "open"  # a handover of this cashier is already waiting for a supervisor
    NOTHING = "nothing"  # nothing to hand over (or nothing to write off)
    NOT_YOURS = "not_yours"  # another supervisor was chosen, or another cashier's
    NO_RECEIVER = "no_receiver"  # no other active supervisor can receive it
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class HandoverResult:
    outcome: HandoverOutcome
    handover: Handover | None = None


@dataclass(frozen=True, slots=True)
class CashPosition:
    """One cashier's paper money now."""

    cashier_id: int
    collected: Decimal = Decimal(0)  # since the last confirmed handover
    count: int = 0  # the completed top-ups it comes from
    since: datetime | None = None  # the last confirmed handover (None: never)
    waiting: Handover | None = None  # declared, not yet answered
    open_variances: tuple[Handover, ...] = ()
    #: Sent (or possibly sent) but not completed: not counted, listed apart.
    unresolved: Decimal = Decimal(0)
    unresolved_count: int = 0
    payments: tuple[Payment, ...] = field(default=())  # the collected top-ups (own /cash)
    unresolved_payments: tuple[Payment, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.collected or self.waiting or self.open_variances or self.unresolved_count)


@dataclass(frozen=True, slots=True)
class CashDay:
    """The day's paper money for the digest: positions now, the day's handovers."""

    positions: tuple[CashPosition, ...]
    handovers: tuple[
        Handover, ...
    ]  # answered (received, disputed, withdrawn) or written off that day
