"""The audit trail's entries: who did what, and its detail as typed fields — an amount, a
count against the records, a status or role change, a rename. The store keeps each field by
name (:mod:`bot.store.audit`); the reader's language renders it (``bot/telegram``). No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.domain.limits import LimitRefusal
from bot.domain.model import Role, Status


@dataclass(frozen=True, slots=True)
class AuditAmount:
    """A top-up's, a request's or a handover's amount (a write-off: its size)."""

    amount: Decimal


@dataclass(frozen=True, slots=True)
class AuditLimit:
    """A top-up of ``amount`` refused by a daily limit: what the limit says."""

    amount: Decimal
    refusal: LimitRefusal


@dataclass(frozen=True, slots=True)
class AuditCount:
    """A supervisor's count of handed-over cash against the records."""

    received: Decimal
    expected: Decimal


@dataclass(frozen=True, slots=True)
class AuditStatus:
    """A payment's status changed (``before`` None: given up on, whatever it was)."""

    before: Status | None
    after: Status
    gave_up: bool = False


@dataclass(frozen=True, slots=True)
class AuditRole:
    """The role someone was given, or had when removed."""

    role: Role


@dataclass(frozen=True, slots=True)
class AuditRoleChange:
    before: Role
    after: Role


@dataclass(frozen=True, slots=True)
class AuditRename:
    """A name on the roster, as typed (``before`` None: they had none)."""

    before: str | None
    after: str


@dataclass(frozen=True, slots=True)
class AuditText:
    """A detail written before details were typed that reads as none of the above: kept and
    shown as it was written."""

    text: str


AuditDetail = (
    AuditAmount
    | AuditLimit
    | AuditCount
    | AuditStatus
    | AuditRole
    | AuditRoleChange
    | AuditRename
    | AuditText
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor_id: int | None  # None: the bot itself
    action: str
    subject: str | None
    detail: AuditDetail | None
