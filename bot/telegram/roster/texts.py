"""The roster's lines and the audit trail's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from html import escape
from typing import assert_never

from aiogram.utils.i18n import gettext as _

from bot.domain.audit import (
    AuditAmount,
    AuditCount,
    AuditDetail,
    AuditEntry,
    AuditLimit,
    AuditRename,
    AuditRole,
    AuditRoleChange,
    AuditStatus,
    AuditText,
)
from bot.domain.limits import LimitKind
from bot.domain.model import Role, StaffUser
from bot.domain.parsing import format_tenge
from bot.telegram.cash.texts import handover_count
from bot.telegram.shared.texts import N_, person, role_label, short_guid, status_label


def staff_line(user: StaffUser) -> str:
    icon = {Role.ADMIN: "👑", Role.SUPERVISOR: "👁", Role.CASHIER: "💵"}[user.role]
    name = escape(user.name) if user.name else "—"
    line = f"{icon} <code>{user.user_id}</code> {name} · {role_label(user.role)}"
    return line + " · " + _("blocked") if user.blocked else line


AUDIT_ACTIONS = {
    "payment.created": N_("top-up created"),
    "payment.status": N_("top-up status"),
    "payment.alert": N_("stuck top-up alert"),
    "roster.seed": N_("role from settings"),
    "roster.added": N_("added to the roster"),
    "roster.changed": N_("role changed"),
    "roster.removed": N_("removed from the roster"),
    "roster.blocked": N_("blocked"),
    "roster.unblocked": N_("unblocked"),
    "roster.renamed": N_("name changed"),
    "limit.cashier_count": N_("refused: cashier's daily count"),
    "limit.cashier_sum": N_("refused: cashier's daily limit"),
    "limit.client_sum": N_("refused: client's daily limit"),
    "approval.requested": N_("approval requested"),
    "approval.approved": N_("approved"),
    "approval.rejected": N_("rejected"),
    "approval.expired": N_("approval expired"),
    "approval.cancelled": N_("approval cancelled"),
    "approval.self_refused": N_("refused: own top-up"),
    "approval.reason": N_("rejection reason given"),
    "payment.recheck": N_("recheck by a supervisor"),
    "handover.declared": N_("cash handover declared"),
    "handover.confirmed": N_("cash handover received"),
    "handover.disputed": N_("cash handover: nothing received"),
    "handover.withdrawn": N_("cash handover withdrawn"),
    "handover.recorded": N_("cash handover recorded for the cashier"),
    "handover.self_refused": N_("refused: own cash"),
    "handover.written_off": N_("cash difference written off"),
}


def audit_detail(detail: AuditDetail) -> str:
    """An audit entry's detail in the reader's language, from its fields (a name as it was
    typed, and a detail written before details had fields, as it was written)."""
    match detail:
        case AuditAmount(amount):
            return _("amount {amount}").format(amount=format_tenge(amount))
        case AuditLimit(amount, refusal):
            # The daily count limit counts top-ups, the others tenge.
            money = refusal.kind is not LimitKind.CASHIER_COUNT
            return _("amount {amount}, limit {limit}, left {left}").format(
                amount=format_tenge(amount),
                limit=format_tenge(refusal.limit) if money else int(refusal.limit),
                left=format_tenge(refusal.left) if money else int(refusal.left),
            )
        case AuditCount(received, expected):
            return handover_count(received, expected)
        case AuditStatus(before, after, gave_up):
            change = f"{status_label(before)} → " if before is not None else "→ "
            return change + status_label(after) + (" " + _("(gave up)") if gave_up else "")
        case AuditRole(role):
            return role_label(role)
        case AuditRoleChange(before, after):
            return f"{role_label(before)} → {role_label(after)}"
        case AuditRename(before, after):
            return escape((f"«{before}» " if before else "") + f"→ «{after}»")
        case AuditText(text):
            return escape(text)
        case _:
            assert_never(detail)


def audit_entry_line(entry: AuditEntry, tz: tzinfo, names: Mapping[int, str]) -> str:
    """One /audit line: when, who, what (a GUID shortened), and its detail."""
    msgid = AUDIT_ACTIONS.get(entry.action)
    action = _(msgid) if msgid else escape(entry.action)
    subject = entry.subject or ""
    if subject.startswith("{"):
        subject = short_guid(subject)
    parts = [
        f"{entry.at.astimezone(tz):%d.%m %H:%M:%S}",
        person(entry.actor_id, names),
        action,
    ]
    if subject:
        parts.append(f"<code>{escape(subject)}</code>")
    if entry.detail is not None:
        parts.append(audit_detail(entry.detail))
    return " · ".join(parts)
