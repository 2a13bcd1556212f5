"""The roster's lines and the audit trail's."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from datetime import tzinfo
from decimal import Decimal
from html import escape

from aiogram.utils.i18n import gettext as _

from bot.domain.model import (
    AuditEntry,
    LimitKind,
    Role,
    StaffUser,
    Status,
)
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


def audit_line(entry: AuditEntry, tz: tzinfo, names: Mapping[int, str]) -> str:
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
    if entry.detail:
        parts.append(audit_detail(entry.action, entry.detail))
    return " · ".join(parts)


_AMOUNTS = re.compile(
    r"^amount (?P<amount>\d+(?:\.\d+)?)"
    r"(?:, limit (?P<limit>\d+(?:\.\d+)?), left (?P<left>-?\d+(?:\.\d+)?))?$"
)
_COUNTED = re.compile(
    r"^received (?P<received>\d+(?:\.\d+)?), expected (?P<expected>\d+(?:\.\d+)?)$"
)
_CHANGE = re.compile(r"^(?P<before>\w*)->(?P<after>\w+)(?P<gave_up> \(gave up\))?$")


def _state_word(value: str) -> str:
    """A stored status or role value in the reader's language (anything else as stored)."""
    with contextlib.suppress(ValueError):
        return status_label(Status(value))
    with contextlib.suppress(ValueError):
        return role_label(Role(value))
    return escape(value)


def audit_detail(action: str, detail: str) -> str:
    """The audit trail stores its details in one fixed form ("amount 5000", "PENDING->
    COMPLETED", "cashier"); a person reads them in their language."""
    amounts = _AMOUNTS.match(detail)
    if amounts is not None:
        amount = format_tenge(Decimal(amounts["amount"]))
        if amounts["limit"] is None:
            return _("amount {amount}").format(amount=amount)
        # The daily count limit counts top-ups, the others tenge.
        money = action != f"limit.{LimitKind.CASHIER_COUNT.value}"
        limit, left = (Decimal(amounts["limit"]), Decimal(amounts["left"]))
        return _("amount {amount}, limit {limit}, left {left}").format(
            amount=amount,
            limit=format_tenge(limit) if money else int(limit),
            left=format_tenge(left) if money else int(left),
        )
    counted = _COUNTED.match(detail)
    if counted is not None:
        return handover_count(Decimal(counted["received"]), Decimal(counted["expected"]))
    change = _CHANGE.match(detail)
    if change is not None:
        after = _state_word(change["after"])
        text = f"{_state_word(change['before'])} → {after}" if change["before"] else f"→ {after}"
        return text + (" " + _("(gave up)") if change["gave_up"] else "")
    return _state_word(detail)


def audit_entry_line(entry: AuditEntry, tz: tzinfo, names: Mapping[int, str]) -> str:
    """One /audit line: :func:`audit_line`, and a rename on the roster (``roster.renamed``:
    its detail the names as typed, ``«First» → «Second»``, read the same in every language)."""
    if entry.action != "roster.renamed":
        return audit_line(entry, tz, names)
    parts = [
        f"{entry.at.astimezone(tz):%d.%m %H:%M:%S}",
        person(entry.actor_id, names),
        _("name changed"),
    ]
    if entry.subject:
        parts.append(f"<code>{escape(entry.subject)}</code>")
    if entry.detail:
        parts.append(escape(entry.detail))
    return " · ".join(parts)
