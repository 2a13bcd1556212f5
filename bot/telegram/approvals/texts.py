"""Approval requests in words: the cashier's notice, the supervisors' cards, the reminder,
the reasons for a rejection."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.domain.limits import LimitKind, LimitRefusal
from bot.domain.masking import mask_login
from bot.domain.model import Approval, ApprovalState
from bot.domain.parsing import format_login, format_tenge
from bot.telegram.approvals.callbacks import RejectReasonCode
from bot.telegram.cashin.texts import limit_refusal
from bot.telegram.shared.texts import N_, local_time, marked, person


def limit_for_supervisor(refusal: LimitRefusal) -> str:
    """What a daily limit says, told to a supervisor (the cashier's limits are theirs)."""
    if refusal.kind is LimitKind.CASHIER_COUNT:
        return ngettext(
            "⛔ The cashier has made {limit} top-up today: that is their daily limit.",
            "⛔ The cashier has made {limit} top-ups today: that is their daily limit.",
            int(refusal.limit),
        ).format(limit=int(refusal.limit))
    if refusal.kind is LimitKind.CASHIER_SUM:
        return _("⛔ Over the cashier's daily limit of {limit}: {left} left today.").format(
            limit=format_tenge(refusal.limit), left=format_tenge(refusal.left)
        )
    return limit_refusal(refusal)  # the client's limit reads the same for everyone


def approval_refused(refusal: LimitRefusal) -> str:
    """The approving supervisor's alert when today's limits refuse the top-up (≤ 200)."""
    text = (
        limit_for_supervisor(refusal)
        + "\n"
        + _("Not sent; the cashier is told to give the cash back.")
    )
    return text[:200]


def _approval_lines(approval: Approval, tz: tzinfo) -> list[str]:
    """The money of a request, as the card that said which cash to take: the amount, and
    with a fee the fee and the cash; then the client."""
    money = [_("Amount: <b>{amount}</b>").format(amount=format_tenge(approval.amount))]
    if approval.fee:
        money += [
            _("Fee: {amount}").format(amount=format_tenge(approval.fee)),
            _("Cash: {amount}").format(amount=format_tenge(approval.cash)),
        ]
    return [*money, _("Client: {name}").format(name=escape(approval.client_name))]


#: A rejection reason chosen from the buttons is kept as ``preset:<code>`` and told to the
#: cashier in the cashier's own language.
_PRESET = "preset:"
REJECT_REASONS: dict[RejectReasonCode, str] = {
    "unidentified": N_("Client not identified"),
    "too_large": N_("Amount too large"),
    "wrong_client": N_("Wrong client or login"),
    "suspicious": N_("Suspicious: call me first"),
}


def preset_reason(code: RejectReasonCode) -> str:
    """The stored form of a rejection reason chosen from the buttons."""
    return _PRESET + code


def reject_reason(stored: str) -> str:
    """A rejection reason as a person reads it: a preset in the reader's language, a typed
    one as typed (escaped)."""
    if stored.startswith(_PRESET):
        for code, msgid in REJECT_REASONS.items():
            if stored == _PRESET + code:
                return _(msgid)
    return escape(stored)


def _give_back(approval: Approval) -> str:
    return _("Nothing was sent to Allpay: give back {cash} to the client.").format(
        cash=format_tenge(approval.cash)
    )


def approval_notice(
    approval: Approval, names: Mapping[int, str], tz: tzinfo, *, sandbox: bool = False
) -> str:
    """The cashier's card while a supervisor decides, and after a decision without payment:
    its head says what the request is now; one that ends without a top-up names the whole
    cash to give back."""
    state = approval.state
    tail: list[str] = []
    if state is ApprovalState.WAITING:
        head = [
            _(
                "🛂 This amount needs a supervisor's approval. The request is sent; the "
                "decision will appear here. Nothing has been sent to Allpay yet."
            )
        ]
        tail = [_("Expires: {time}").format(time=local_time(approval.expires_at, tz))]
    elif state is ApprovalState.REJECTED and approval.limit_refusal is not None:
        head = [
            _("🚫 The top-up was not approved: it would go over a daily limit today."),
            limit_refusal(approval.limit_refusal),
            _give_back(approval),
        ]
    elif state is ApprovalState.REJECTED:
        head = [
            _("🚫 {supervisor} rejected the top-up.").format(
                supervisor=person(approval.decided_by, names)
            )
        ]
        if approval.reason:
            head.append(_("Reason: {reason}").format(reason=reject_reason(approval.reason)))
        head.append(_give_back(approval))
    elif state is ApprovalState.EXPIRED:
        head = [_("⌛ No supervisor decided in time: the request expired."), _give_back(approval)]
    elif state is ApprovalState.CANCELLED:
        head = [_("🚫 The request was cancelled."), _give_back(approval)]
    else:
        head = [_("🛂 A supervisor approved the top-up; it is being sent.")]
    lines = [*head, "", *_approval_lines(approval, tz)]
    lines.append(_("Login: {login}").format(login=format_login(approval.login)))
    return "\n".join(marked([*lines, *tail], sandbox))


def _today_lines(approval: Approval) -> list[str]:
    """The day so far when the cashier asked: the cashier's and the client's top-ups (sent
    or waiting, as the daily limits count them)."""
    cashier, client = approval.cashier_today, approval.client_today
    if cashier is None or client is None:
        return []
    return [
        _("Today, before this request:"),
        ngettext(
            "· cashier: {count} top-up, {amount}",
            "· cashier: {count} top-ups, {amount}",
            cashier.count,
        ).format(count=cashier.count, amount=format_tenge(cashier.amount)),
        ngettext(
            "· client: {count} top-up, {amount}",
            "· client: {count} top-ups, {amount}",
            client.count,
        ).format(count=client.count, amount=format_tenge(client.amount)),
    ]


def approval_card(
    approval: Approval, names: Mapping[int, str], tz: tzinfo, *, sandbox: bool = False
) -> str:
    """A supervisor's card: its head says what the request is now (waiting for a decision,
    or who decided and when), then what a decision rests on."""
    state = approval.state
    who = person(approval.decided_by, names)
    when = local_time(approval.decided_at, tz) if approval.decided_at else ""
    if state is ApprovalState.WAITING:
        head = [_("🛂 Approval needed")]
    elif state is ApprovalState.APPROVED:
        head = [_("✔️ Approved by {who} at {time}").format(who=who, time=when)]
    elif state is ApprovalState.REJECTED and approval.limit_refusal is not None:
        head = [
            _("⛔ Not approved at {time}: over a daily limit.").format(time=when),
            limit_for_supervisor(approval.limit_refusal),
        ]
    elif state is ApprovalState.REJECTED:
        head = [_("🚫 Rejected by {who} at {time}").format(who=who, time=when)]
    elif state is ApprovalState.EXPIRED:
        head = [_("⌛ Expired without a decision at {time}").format(time=when)]
    elif approval.decided_by == approval.cashier_id:
        head = [_("↩️ Withdrawn by {who} at {time}").format(who=who, time=when)]
    else:
        head = [_("🚫 Cancelled by {who} at {time}").format(who=who, time=when)]
    lines = [
        *head,
        "",
        *_approval_lines(approval, tz),
        _("Login: {login}").format(login=mask_login(approval.login)),
    ]
    if approval.identified is not None:
        lines.append(_("Identified: yes") if approval.identified else _("Identified: no"))
    lines += [
        _("Cashier: {cashier}").format(cashier=person(approval.cashier_id, names)),
        _("Requested: {time}").format(time=local_time(approval.created_at, tz)),
        *_today_lines(approval),
    ]
    if state is ApprovalState.WAITING:
        lines.append(_("Expires: {time}").format(time=local_time(approval.expires_at, tz)))
    return "\n".join(marked(lines, sandbox))


def approval_reminder(approval: Approval, names: Mapping[int, str], tz: tzinfo) -> str:
    """The one reminder a decider gets before a request expires (in reply to its card)."""
    return _(
        "⏰ An approval request expires at {time}: {amount} · {cashier}. Approve or reject it "
        "on its card; otherwise the cashier gives the cash back."
    ).format(
        time=local_time(approval.expires_at, tz),
        amount=format_tenge(approval.amount),
        cashier=person(approval.cashier_id, names),
    )


def approval_state_label(approval: Approval, names: Mapping[int, str]) -> str:
    if approval.limit_refusal is not None:
        return _("not approved: over a daily limit")
    who = person(approval.decided_by, names)
    return {
        ApprovalState.WAITING: _("waiting"),
        ApprovalState.APPROVED: _("approved by {who}").format(who=who),
        ApprovalState.REJECTED: _("rejected by {who}").format(who=who),
        ApprovalState.EXPIRED: _("expired"),
        ApprovalState.CANCELLED: _("cancelled"),
    }[approval.state]


def decision_unrecorded() -> str:
    """A supervisor's decision the journal did not answer (a pop-up: at most 200 characters)."""
    return _(
        "⚠️ Our records are not answering: your decision may not be recorded. If it was, "
        "the cards show it within a minute; if not, press again then."
    )
