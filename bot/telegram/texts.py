"""Everything a person reads about a payment, rendered in the current locale.

Status messages lead with their icon (✅ completed, ❌ declined, ⏳ pending); no other message
starts with ✅ or ❌.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal
from html import escape
from typing import assert_never

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.documents import receipt as documents
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
from bot.domain.cash import CashDay, CashPosition, Handover, HandoverState
from bot.domain.clients import Client
from bot.domain.limits import LimitKind, LimitRefusal
from bot.domain.masking import mask_iin, mask_login
from bot.domain.model import (
    Approval,
    ApprovalState,
    Draft,
    Payment,
    Role,
    StaffUser,
    Status,
    WorkEnded,
)
from bot.domain.parsing import format_login, format_tenge
from bot.domain.receipts import Receipt
from bot.domain.reports import Summary, Tally
from bot.telegram.callbacks import RejectReasonCode
from bot.telegram.keyboards import N_


def local_time(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%d.%m.%Y %H:%M:%S")


def short_guid(guid: str) -> str:
    return guid.strip("{}")[:8]


def sandbox_mark() -> str:
    """The line every card, status, receipt and balance ends with while the embedded sandbox
    runs (``settings.uses_sandbox``): nothing there is real money."""
    return "🧪 " + _("SANDBOX — no real money")


def _marked(lines: list[str], sandbox: bool) -> list[str]:
    return [*lines, "", sandbox_mark()] if sandbox else lines


def client_card(login: str, client: Client, *, sandbox: bool = False) -> str:
    lines = [
        _("Client: <b>{name}</b>").format(name=escape(client.name)),
        _("Login: {login}").format(login=format_login(login)),
        _("Identified: yes") if client.identified else _("Identified: no"),
    ]
    if client.masked_iin:
        lines.append(_("IIN: {iin}").format(iin=client.masked_iin))
    if not client.identified:
        lines.append(
            _(
                "⚠️ The wallet is not identified: Allpay may refuse larger amounts "
                "(limits for unidentified wallets)."
            )
        )
    return "\n".join(_marked(lines, sandbox))


def lookup_refused(code: str | None, message: str | None) -> str:
    """Allpay answered the client lookup with a SOAP Fault. Faults are unsigned (anyone on the
    way can write one): the bot says what happened in its own words, with the fault code;
    the Fault's text, if any, is quoted as unverified — never as Allpay's word."""
    lines = [
        _(
            "⚠️ The client lookup failed: Allpay answered with an error (code {code}). Nothing "
            "was paid. Check the login and try again."
        ).format(code=f"<code>{escape(code or '—')}</code>")
    ]
    if message:
        # The bot never shows an IIN whole, whoever wrote it.
        shown = _IIN_SHAPED.sub(lambda m: mask_iin(m.group()), message)
        lines.append(
            _(
                "The error's text is not signed by Allpay and is unverified — do not act on "
                "it: «{text}»"
            ).format(text=escape(shown))
        )
    return "\n".join(lines)


_IIN_SHAPED = re.compile(r"(?<!\d)\d{12}(?!\d)")


def confirm_card(
    draft: Draft, fee: Decimal, *, approval: bool = False, sandbox: bool = False
) -> str:
    """The last look before money moves: who, how much, and the cash to take — its last line,
    right above the button (the sandbox's mark goes under the title). With ``approval`` it
    says, before the cash, that a supervisor decides first."""
    assert draft.amount is not None, "a card is shown for a draft with its amount"
    lines = [
        _("Check and confirm the top-up:"),
        *([sandbox_mark()] if sandbox else []),
        "",
        _("Client: <b>{name}</b>").format(name=escape(draft.client_name)),
        _("Login: {login}").format(login=format_login(draft.login)),
    ]
    if draft.masked_iin:
        lines.append(_("IIN: {iin}").format(iin=escape(draft.masked_iin)))
    lines.append(_("Identified: yes") if draft.identified else _("Identified: no"))
    lines.append(_("Amount: <b>{amount}</b>").format(amount=format_tenge(draft.amount)))
    if fee:
        lines.append(_("Fee: {amount}").format(amount=format_tenge(fee)))
    cash = format_tenge(draft.amount + fee)
    if approval:
        lines += [
            "",
            _("🛂 This amount is sent to Allpay only if a supervisor approves it first."),
            _(
                "💵 Take {amount} in cash from the client, then tap «Confirm and ask for "
                "approval». If it is not approved, give the cash back."
            ).format(amount=cash),
        ]
        return "\n".join(lines)
    lines += [
        "",
        _("💵 Take {amount} in cash from the client, then tap «Confirm».").format(amount=cash),
    ]
    return "\n".join(lines)


def _details(payment: Payment, tz: tzinfo) -> list[str]:
    money = [_("Amount: <b>{amount}</b>").format(amount=format_tenge(payment.amount))]
    if payment.fee:  # as the card that said which cash to take
        money += [
            _("Fee: {amount}").format(amount=format_tenge(payment.fee)),
            _("Cash: {amount}").format(amount=format_tenge(payment.cash)),
        ]
    return [
        *money,
        _("Client: {name}").format(name=escape(payment.client_name)),
        _("Login: {login}").format(login=format_login(payment.login)),
        _("GUID: <code>{guid}</code>").format(guid=payment.guid),
        _("Time: {time}").format(time=local_time(payment.final_at or payment.created_at, tz)),
    ]


def status_text(payment: Payment, tz: tzinfo, *, sandbox: bool = False) -> str:
    """The cashier's status message for a payment, as the journal has it now."""
    status = payment.status
    if status is Status.COMPLETED:
        head = [_("✅ Top-up completed"), _("The wallet is topped up; the cash stays with you.")]
    elif status is Status.DECLINED:
        head = [_("❌ Top-up declined")]
        reason = _unrepeated(payment.user_message, head[0])
        if reason:
            head.append(_("Allpay: {message}").format(message=escape(reason)))
        head.append(
            _("Give the cash back to the client: {amount}.").format(
                amount=format_tenge(payment.cash)
            )
        )
    elif status is Status.UNKNOWN:
        head = [
            _(
                "⚠️ Allpay gave no final answer in time: the top-up needs manual "
                "reconciliation. Do not top up again and do not give the cash back until a "
                "supervisor has checked it."
            )
        ]
    else:
        head = [
            _("⏳ Sending to Allpay…")
            if status is Status.NEW
            else _("⏳ Allpay is processing the top-up."),
            keep_the_cash(),  # says where the answer comes: once
        ]
    return "\n".join(_marked([*head, "", *_details(payment, tz)], sandbox))


_SEPARATORS = " \t:;,.—–-"


def _unrepeated(message: str | None, head: str) -> str:
    """Allpay's own words, without what our head line already says: its "Top-up declined:
    the wallet is blocked" under "❌ Top-up declined" is shown as "The wallet is blocked"
    (empty when it says nothing more). Allpay answers in the top-up's language, which is
    the cashier's, so the head is compared in the language shown (and in English)."""
    text = (message or "").strip()
    for said in (head, "❌ Top-up declined"):
        said = said.lstrip("❌ ").strip()
        if said and text[: len(said)].casefold() == said.casefold():
            rest = text[len(said) :].lstrip(_SEPARATORS)
            return rest[:1].upper() + rest[1:]
    return text


def pending_subject(payment: Payment) -> str:
    """A payment named for supervisors: amount, masked login, short GUID."""
    return (
        f"{format_tenge(payment.amount)} · {mask_login(payment.login)} · "
        f"<code>{short_guid(payment.guid)}</code>"
    )


def late_final(payment: Payment) -> str:
    """A short notifying message when a final status arrives long after the confirm tap
    (the status message itself is edited, and edits make no sound)."""
    what = f"{format_tenge(payment.amount)} · {format_login(payment.login)}"
    if payment.status is Status.COMPLETED:
        return _("✅ {what}: the top-up is completed; the cash stays with you.").format(what=what)
    if payment.status is Status.DECLINED:
        return _("❌ {what}: the top-up is declined; give the cash back: {cash}.").format(
            what=what, cash=format_tenge(payment.cash)
        )
    return _(
        "⚠️ {what}: no final answer from Allpay; a supervisor will check it. Keep the cash."
    ).format(what=what)


def keep_the_cash() -> str:
    """The cash rule while a top-up has no final answer (said wherever one is pending)."""
    return _("Keep the cash and do not repeat the top-up: the answer will come here.")


def sent_line(payment: Payment) -> str:
    """A top-up already with Allpay, for its own cashier: icon, amount, status, time."""
    return f"{payment.status.icon} {format_tenge(payment.amount)} · {status_label(payment.status)}"


def feed_line(payment: Payment, cashier: str) -> str:
    """One final payment in the supervisors' feed: icon, amount, cashier, masked login, GUID."""
    return " · ".join(
        [
            f"{payment.status.icon} {format_tenge(payment.amount)}",
            escape(cashier),
            mask_login(payment.login),
            short_guid(payment.guid),
        ]
    )


def supervisor_alert(payment: Payment, cashier: str, now: datetime) -> str:
    minutes = int((now - payment.created_at).total_seconds() // 60)
    return _(
        "⏳ Still pending after {minutes} min: {amount} · {login}\n"
        "Cashier: {cashier} · {guid} · attempts: {attempts}\nLast error: {error}"
    ).format(
        minutes=minutes,
        amount=format_tenge(payment.amount),
        login=mask_login(payment.login),
        cashier=escape(cashier),
        guid=short_guid(payment.guid),
        attempts=payment.attempts,
        error=escape(payment.last_error or "—"),
    )


def status_label(status: Status) -> str:
    return {
        Status.NEW: _("sending"),
        Status.PENDING: _("pending"),
        Status.COMPLETED: _("completed"),
        Status.DECLINED: _("declined"),
        Status.UNKNOWN: _("needs reconciliation"),
    }[status]


def role_label(role: Role) -> str:
    return {
        Role.ADMIN: _("admin"),
        Role.SUPERVISOR: _("supervisor"),
        Role.CASHIER: _("cashier"),
    }[role]


def person(user_id: int | None, names: Mapping[int, str]) -> str:
    """``Name (id)`` for staff, escaped for HTML; the bot itself for None."""
    if user_id is None:
        return _("the bot")
    name = names.get(user_id)
    return f"{escape(name)} ({user_id})" if name else str(user_id)


def history_line(number: int, payment: Payment, tz: tzinfo, cashier: str | None) -> str:
    """One /history entry, numbered like its details button. A cashier's own clients by name
    and login as typed (they are the cashier's to recognise); for supervisors, who see
    everyone's, the login masked and the cashier named."""
    head = (
        f"<b>{number}.</b> {payment.created_at.astimezone(tz):%d.%m %H:%M} "
        f"{payment.status.icon} {format_tenge(payment.amount)}"
    )
    if cashier is not None:
        return f"{head} · {mask_login(payment.login)} · {cashier}"
    client = escape(payment.client_name)
    login = format_login(payment.login)
    return f"{head} · {client} · {login}" if client else f"{head} · {login}"


def payment_card(
    payment: Payment, tz: tzinfo, cashier: str, *, staff_view: bool, sandbox: bool = False
) -> str:
    """Everything known about one payment (/find). ``staff_view`` adds our own error notes."""
    lines = [
        f"{payment.status.icon} <b>{status_label(payment.status)}</b> · "
        f"<b>{format_tenge(payment.amount)}</b>",
        _("Client: {name}").format(name=escape(payment.client_name)),
        _("Login: {login}").format(login=format_login(payment.login)),
        _("Cashier: {cashier}").format(cashier=cashier),
        _("GUID: <code>{guid}</code>").format(guid=payment.guid),
        _("Created: {time}").format(time=local_time(payment.created_at, tz)),
    ]
    if payment.final_at:
        lines.append(_("Final: {time}").format(time=local_time(payment.final_at, tz)))
    if staff_view and payment.attempts > 1:
        # A count of sends reads like a count of top-ups to a cashier: staff only, said
        # for what it is (Allpay takes one GUID once).
        lines.append(
            _("Attempts with Allpay: {attempts} (one GUID, one top-up)").format(
                attempts=payment.attempts
            )
        )
    if payment.receipt_no:
        lines.append(_("Receipt No. {number}").format(number=receipt_number(payment)))
    allpay_says = _unrepeated(payment.user_message, _("❌ Top-up declined"))  # head says it
    if allpay_says:
        lines.append(_("Allpay: {message}").format(message=escape(allpay_says)))
    if staff_view and payment.last_error and not payment.status.is_final:
        lines.append(_("Last error: {error}").format(error=escape(payment.last_error)))
    return "\n".join(_marked(lines, sandbox))


def receipt_number(payment: Payment) -> str:
    return f"{payment.receipt_no or 0:06d}"


def receipt(receipt: Receipt, tz: tzinfo) -> str:
    """The receipt as a chat message (the PDF beside it says the same, see bot.documents)."""
    lines = [f"🧾 <b>{escape(documents.title(receipt, _))}</b>", _("Allpay wallet top-up")]
    if receipt.sandbox:
        lines.append(f"<b>{sandbox_mark()}</b>")
    if receipt.example:
        lines.append(_("Example values: the sandbox, not a real top-up."))
    lines.append("")
    for field in documents.fields(receipt, tz, _):
        value = f"<code>{escape(field.value)}</code>" if field.code else escape(field.value)
        lines.append(f"{escape(field.label)}: {value}")
    lines += ["", _("Status: completed.")]
    return "\n".join(lines)


def _tally_lines(tallies: Mapping[Status, Tally], indent: str) -> list[str]:
    return [
        f"{indent}{status.icon} {status_label(status)}: {tallies[status].count} · "
        f"{format_tenge(tallies[status].amount)}"
        for status in Status
        if status in tallies
    ]


def summary_text(
    title: str, summary: Summary, names: Mapping[int, str], *, per_cashier: bool
) -> str:
    """Totals by status; per cashier (supervisors) with an overall block at the end."""
    lines = [f"<b>{title}</b>"]
    if summary.empty:
        lines.append(_("No top-ups."))
        return "\n".join(lines)
    if per_cashier:
        for cashier_id in sorted(summary.per_cashier):
            lines += ["", person(cashier_id, names)]
            lines += _tally_lines(summary.per_cashier[cashier_id], "  ")
        lines += ["", _("<b>Total</b>")]
    lines += _tally_lines(summary.overall, "  " if per_cashier else "")
    return "\n".join(lines)


def day_title(day: date) -> str:
    return _("Top-ups on {date}").format(date=f"{day:%d.%m.%Y}")


def digest_title(day: date) -> str:
    return _("📊 Daily digest for {date}").format(date=f"{day:%d.%m.%Y}")


def unresolved_note(count: int) -> str:
    return _("⏳ Without Allpay's final answer now: {count} — see /pending.").format(count=count)


def digest_text(
    day: date,
    summary: Summary,
    names: Mapping[int, str],
    unresolved: int,
    cash: CashDay,
    tz: tzinfo,
    *,
    as_of: datetime | None = None,
) -> str:
    """The daily digest as the supervisors' chats get it at DIGEST_TIME; ``as_of``: the
    day is not over (``/digest`` today), said under the title."""
    text = summary_text(digest_title(day), summary, names, per_cashier=True)
    if as_of is not None:
        title, _rest, body = text.partition("\n")
        so_far = _("So far today: as of {time}.").format(time=f"{as_of.astimezone(tz):%H:%M}")
        text = "\n".join([title, so_far, body] if body else [title, so_far])
    if unresolved:
        text += "\n\n" + unresolved_note(unresolved)
    return text + "\n" + "\n".join(cash_digest(cash, names, tz))


def digest_usage() -> str:
    return _("Usage: /digest [yesterday | YYYY-MM-DD] — today's so far by default.")


def day_not_come(day: date) -> str:
    return _("{date} has not come yet.").format(date=f"{day:%d.%m.%Y}")


def age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{days} d {hours} h").format(days=hours // 24, hours=hours % 24)


def approval_pending_line(approval: Approval, now: datetime, cashier: str) -> str:
    return _("🛂 {amount} · {login} · {cashier} · waiting {age}").format(
        amount=format_tenge(approval.amount),
        login=mask_login(approval.login),
        cashier=cashier,
        age=age((now - approval.created_at).total_seconds()),
    )


def pending_line(payment: Payment, now: datetime, cashier: str) -> str:
    return _(
        "{icon} {amount} · {login} · {guid}\n   {age} · attempts: {attempts} · {cashier}"
    ).format(
        icon=payment.status.icon,
        amount=format_tenge(payment.amount),
        login=mask_login(payment.login),
        guid=f"<code>{short_guid(payment.guid)}</code>",
        age=age((now - payment.created_at).total_seconds()),
        attempts=payment.attempts,
        cashier=cashier,
    )


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


TELEGRAM_TEXT_LIMIT = 4096


def chunks(lines: list[str], limit: int = TELEGRAM_TEXT_LIMIT - 96) -> list[str]:
    """Join lines into as few messages as Telegram's length limit allows."""
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + len(line) + 1 > limit:
            messages.append("\n".join(current))
            current, size = [], 0
        current.append(line[:limit])
        size += len(line) + 1
    if current:
        messages.append("\n".join(current))
    return messages


# ---------------------------------------------------------------- money controls


def limit_refusal(refusal: LimitRefusal) -> str:
    if refusal.kind is LimitKind.CASHIER_COUNT:
        return ngettext(
            "⛔ You have made your {limit} top-up for today: that is the daily limit.",
            "⛔ You have made your {limit} top-ups for today: that is the daily limit.",
            int(refusal.limit),
        ).format(limit=int(refusal.limit))
    if refusal.kind is LimitKind.CASHIER_SUM:
        return _("⛔ Over your daily limit of {limit}: {left} left today.").format(
            limit=format_tenge(refusal.limit), left=format_tenge(refusal.left)
        )
    return _(
        "⛔ Over this client's daily limit of {limit}: {left} left today for this wallet."
    ).format(limit=format_tenge(refusal.limit), left=format_tenge(refusal.left))


def _renews() -> str:
    return _("The limit renews at 00:00.")


def limit_used_up(limit: LimitRefusal) -> str:
    """A daily limit nothing fits in any more today: said at /cashin (the cashier's own) or
    at the login (the client's), with what is left and when it renews."""
    if limit.kind is LimitKind.CASHIER_COUNT:
        head = limit_refusal(limit)
    elif limit.kind is LimitKind.CASHIER_SUM:
        head = _("⛔ Your daily limit of {limit} is used up: {left} left today.").format(
            limit=format_tenge(limit.limit), left=format_tenge(limit.left)
        )
    else:
        head = _(
            "⛔ This client's daily limit of {limit} is used up: {left} left today for this wallet."
        ).format(limit=format_tenge(limit.limit), left=format_tenge(limit.left))
    return head + " " + _renews()


def limit_left(limit: LimitRefusal) -> str:
    """What a daily sum limit leaves today, shown with the amount prompt."""
    if limit.kind is LimitKind.CLIENT_SUM:
        text = _("Left today: {left} (this client's daily limit; it renews at 00:00).")
    else:
        text = _("Left today: {left} (your daily limit; it renews at 00:00).")
    return text.format(left=format_tenge(limit.left))


def no_other_decider(threshold: Decimal) -> str:
    """A top-up that needs an approval nobody but the cashier could give: refused at the
    amount step, before any card says to take the cash."""
    return _(
        "🛂 From {threshold} a top-up needs another person's approval, and there is no active "
        "supervisor or admin besides you to give it. Enter an amount below {threshold}, or "
        "/cancel and ask an admin to add a supervisor."
    ).format(threshold=format_tenge(threshold))


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
    return "\n".join(_marked([*lines, *tail], sandbox))


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
    return "\n".join(_marked(lines, sandbox))


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


# ---------------------------------------------------------------- paper money


def handover_number(handover: Handover) -> str:
    return f"#{handover.id}"


def _variance_line(handover: Handover) -> str:
    variance = handover.variance
    if variance < 0:
        return _("Shortage: {amount}").format(amount=format_tenge(-variance))
    if variance > 0:
        return _("Surplus: {amount}").format(amount=format_tenge(variance))
    return _("No difference.")


def _open_variance_lines(
    position: CashPosition, indent: str = "", *, own: bool = False
) -> list[str]:
    """Each difference not yet written off, and whom it stays on: ``own`` says it to the
    cashier (their /cash), otherwise to supervisors (the book, the digest)."""
    lines = []
    for handover in position.open_variances:
        if handover.variance < 0 and own:
            text = _(
                "⚠️ Open shortage {amount} (handover {number}): counted on you until a "
                "supervisor writes it off."
            )
        elif handover.variance < 0:
            text = _(
                "⚠️ Open shortage {amount} (handover {number}): owed by the cashier until a "
                "supervisor writes it off."
            )
        elif own:
            text = _(
                "➕ Open surplus {amount} (handover {number}): held for you until a "
                "supervisor writes it off."
            )
        else:
            text = _(
                "➕ Open surplus {amount} (handover {number}): held for the cashier until a "
                "supervisor writes it off."
            )
        amount = format_tenge(abs(handover.variance))
        lines.append(indent + text.format(amount=amount, number=handover_number(handover)))
    return lines


def cash_own(position: CashPosition, tz: tzinfo, limit: int = 30) -> str:
    """A cashier's /cash: the cash they hold and the top-ups it comes from."""
    lines = [_("💵 <b>Cash on hand: {amount}</b>").format(amount=format_tenge(position.collected))]
    if position.since is not None and not position.count:
        lines.append(
            _("No completed top-ups since the handover of {time}.").format(
                time=local_time(position.since, tz)
            )
        )
    elif position.since is not None:
        lines.append(
            ngettext(
                "From {count} completed top-up since the handover of {time}.",
                "From {count} completed top-ups since the handover of {time}.",
                position.count,
            ).format(count=position.count, time=local_time(position.since, tz))
        )
    elif not position.count:
        lines.append(_("No completed top-ups yet."))
    else:
        lines.append(
            ngettext(
                "From {count} completed top-up; no handover yet.",
                "From {count} completed top-ups; no handover yet.",
                position.count,
            ).format(count=position.count)
        )
    for payment in position.payments[-limit:]:
        lines.append(
            f"· {payment.created_at.astimezone(tz):%d.%m %H:%M} {format_tenge(payment.cash)} · "
            f"{escape(payment.client_name)} · {receipt_number(payment)}"
        )
    if len(position.payments) > limit:
        lines.append(_("…and {count} earlier ones.").format(count=len(position.payments) - limit))
    if position.waiting is not None:
        lines += ["", handover_waiting_line(position.waiting)]
    variances = _open_variance_lines(position, own=True)
    if variances:
        lines += ["", *variances]
    if position.unresolved_count:
        lines += [
            "",
            ngettext(
                "⏳ Not counted: {count} top-up of {amount} without Allpay's final answer yet.",
                "⏳ Not counted: {count} top-ups of {amount} without Allpay's final answer yet.",
                position.unresolved_count,
            ).format(count=position.unresolved_count, amount=format_tenge(position.unresolved)),
        ]
        for payment in position.unresolved_payments[:limit]:
            lines.append(
                f"· {payment.created_at.astimezone(tz):%d.%m %H:%M} {format_tenge(payment.cash)} "
                f"· {payment.status.icon} {status_label(payment.status)}"
            )
    if position.collected and position.waiting is None:
        lines += ["", _("To hand the cash over to a supervisor: /handover")]
    return "\n".join(lines)


def handover_waiting_line(handover: Handover) -> str:
    return _("🤝 Handover {number} of {amount} waits for a supervisor.").format(
        number=handover_number(handover), amount=format_tenge(handover.declared or Decimal(0))
    )


def handover_waiting_reply(handover: Handover) -> str:
    """/handover while one waits, in reply to its message (the one that shows its answer)."""
    return "\n".join(
        [
            handover_waiting_line(handover),
            _("The answer comes in its message above; you can withdraw it there."),
        ]
    )


def cash_book(positions: list[CashPosition], names: Mapping[int, str], tz: tzinfo) -> str:
    """A supervisor's /cash: every cashier's paper money and the total."""
    lines = [_("💵 <b>Cash on hand</b>")]
    if not positions:
        lines.append(_("No cashier holds cash from top-ups."))
        return "\n".join(lines)
    for position in positions:
        lines += ["", cash_book_line(position, names, tz)]
        if position.waiting is not None:
            lines.append("  " + handover_waiting_line(position.waiting))
        lines += _open_variance_lines(position, "  ")
        if position.unresolved_count:
            lines.append(
                "  "
                + ngettext(
                    "⏳ not counted: {count} top-up of {amount} without a final answer",
                    "⏳ not counted: {count} top-ups of {amount} without a final answer",
                    position.unresolved_count,
                ).format(count=position.unresolved_count, amount=format_tenge(position.unresolved))
            )
    total = sum((p.collected for p in positions), Decimal(0))
    lines += ["", _("<b>Total: {amount}</b>").format(amount=format_tenge(total))]
    return "\n".join(lines)


def cash_book_line(position: CashPosition, names: Mapping[int, str], tz: tzinfo) -> str:
    since = (
        _("since {time}").format(time=local_time(position.since, tz))
        if position.since is not None
        else _("no handover yet")
    )
    count = ngettext("{count} top-up", "{count} top-ups", position.count).format(
        count=position.count
    )
    return (
        f"{person(position.cashier_id, names)}: <b>{format_tenge(position.collected)}</b> · "
        f"{count} · {since}"
    )


def handover_prompt(position: CashPosition) -> str:
    if position.collected:
        head = ngettext(
            "💵 By our records you hold {amount} from {count} completed top-up.",
            "💵 By our records you hold {amount} from {count} completed top-ups.",
            position.count,
        ).format(amount=format_tenge(position.collected), count=position.count)
    else:
        head = _("💵 By our records you hold no cash from top-ups.")
    lines = [head]
    if position.unresolved_count:
        lines.append(
            _(
                "⏳ Keep the {amount} of top-ups without Allpay's final answer apart: it is not "
                "part of the handover."
            ).format(amount=format_tenge(position.unresolved))
        )
    lines.append(_("Count the cash you hand over and send the amount, for example 50000."))
    return "\n".join(lines)


def handover_receiver_prompt(amount: Decimal) -> str:
    return _("Who receives {amount}?").format(amount=format_tenge(amount))


def _handover_head(handover: Handover, names: Mapping[int, str]) -> str:
    """The first line of the cashier's handover message: what became of it."""
    number = handover_number(handover)
    who = person(handover.decided_by, names)
    state = handover.state
    if state is HandoverState.DECLARED:
        receiver = (
            person(handover.receiver_id, names)
            if handover.receiver_id is not None
            else _("any supervisor")
        )
        return _("🤝 Handover {number}: {amount} to {receiver}.").format(
            number=number, amount=format_tenge(handover.declared or Decimal(0)), receiver=receiver
        )
    if state is HandoverState.CONFIRMED:
        return _("🤝 Handover {number} confirmed by {who}: received {amount}.").format(
            number=number, who=who, amount=format_tenge(handover.received or Decimal(0))
        )
    if state is HandoverState.DISPUTED:
        return _("🚫 Handover {number}: {who} received nothing.").format(number=number, who=who)
    return _("↩️ Handover {number} withdrawn.").format(number=number)


def handover_notice(handover: Handover, names: Mapping[int, str], tz: tzinfo) -> str:
    """The cashier's message about their handover: one message, edited at every step, whose
    whole text is the handover as it is now."""
    lines = [_handover_head(handover, names)]
    state = handover.state
    if state is HandoverState.DECLARED:
        lines.append(_("The supervisor confirms the amount received; the answer will come here."))
    elif state is HandoverState.CONFIRMED:
        lines += [
            _("Expected by our records: {amount}").format(amount=format_tenge(handover.expected)),
            _variance_line(handover),
        ]
        if handover.variance < 0 and handover.written_off_at is None:
            lines.append(_("The shortage stays on you until a supervisor writes it off."))
    else:
        lines.append(_("The cash is still counted on you: see /cash."))
    if handover.written_off_at is not None:
        lines += ["", write_off_line(handover, names)]
    return "\n".join(lines)


def handover_news(handover: Handover, names: Mapping[int, str]) -> str | None:
    """A short message that makes a sound when the cashier's handover message is edited
    to someone else's answer (an edit is silent); it replies to that message. None when
    there is nothing to tell: still waiting, or the cashier withdrew it themselves."""
    if handover.written_off_at is not None:
        return write_off_line(handover, names)
    if handover.state is HandoverState.DECLARED or handover.decided_by == handover.cashier_id:
        return None
    return _handover_head(handover, names)


def write_off_line(handover: Handover, names: Mapping[int, str]) -> str:
    return _("✔️ {who} wrote off the difference of {amount}. Reason: {reason}").format(
        who=person(handover.written_off_by, names),
        amount=format_tenge(abs(handover.variance)),
        reason=escape(handover.write_off_reason or ""),
    )


def handover_card(handover: Handover, names: Mapping[int, str], tz: tzinfo) -> str:
    """A supervisor's card: the handover and, once answered, the answer."""
    lines = [
        _("🤝 Cash handover {number}").format(number=handover_number(handover)),
        "",
        _("Cashier: {cashier}").format(cashier=person(handover.cashier_id, names)),
    ]
    if handover.declared is not None:
        lines.append(_("Declared: <b>{amount}</b>").format(amount=format_tenge(handover.declared)))
    lines.append(
        _("Expected by our records: {amount}").format(amount=format_tenge(handover.expected))
    )
    lines.append(_("Declared at: {time}").format(time=local_time(handover.created_at, tz)))
    if handover.pending:
        lines.append(
            _(
                "⏳ The cashier also keeps {amount} of top-ups without Allpay's final answer: "
                "not part of this handover."
            ).format(amount=format_tenge(handover.pending))
        )
    who = person(handover.decided_by, names)
    when = local_time(handover.decided_at, tz) if handover.decided_at else ""
    state = handover.state
    if state is HandoverState.DECLARED:
        if handover.receiver_id is not None:
            lines.append(_("To: {receiver}").format(receiver=person(handover.receiver_id, names)))
        lines += ["", _("Count the cash, then confirm the amount received.")]
    elif state is HandoverState.CONFIRMED:
        lines += [
            "",
            _("✔️ {who} received {amount} at {time}").format(
                who=who, amount=format_tenge(handover.received or Decimal(0)), time=when
            ),
            _variance_line(handover),
        ]
    elif state is HandoverState.DISPUTED:
        lines += ["", _("🚫 {who}: nothing received, at {time}").format(who=who, time=when)]
    else:
        lines += ["", _("↩️ Withdrawn at {time}").format(time=when)]
    if handover.written_off_at is not None:
        lines.append(write_off_line(handover, names))
    return "\n".join(lines)


def handover_state_word(state: HandoverState) -> str:
    return {
        HandoverState.DECLARED: _("waiting"),
        HandoverState.CONFIRMED: _("received"),
        HandoverState.DISPUTED: _("nothing received"),
        HandoverState.WITHDRAWN: _("withdrawn"),
    }[state]


def handover_state_label(handover: Handover, names: Mapping[int, str]) -> str:
    who = person(handover.decided_by, names)
    return {
        HandoverState.DECLARED: _("waiting"),
        HandoverState.CONFIRMED: _("received by {who}").format(who=who),
        HandoverState.DISPUTED: _("not received by {who}").format(who=who),
        HandoverState.WITHDRAWN: _("withdrawn"),
    }[handover.state]


def cash_digest(day: CashDay, names: Mapping[int, str], tz: tzinfo) -> list[str]:
    """The digest's paper-money part: cash on hand per cashier now, the day's handovers."""
    lines = ["", _("<b>💵 Cash on hand now</b>")]
    holding = [p for p in day.positions if p.collected or p.open_variances or p.waiting]
    if not holding:
        lines.append(_("No cashier holds cash from top-ups."))
    for position in holding:
        lines.append(cash_book_line(position, names, tz))
        lines += _open_variance_lines(position, "  ")
    total = sum((p.collected for p in day.positions), Decimal(0))
    lines.append(_("<b>Total: {amount}</b>").format(amount=format_tenge(total)))
    lines += ["", _("<b>🤝 Handovers of the day</b>")]
    if not day.handovers:
        lines.append(_("None."))
    for handover in day.handovers:
        lines.append(handover_digest_line(handover, names))
    return lines


def handover_count(received: Decimal, expected: Decimal) -> str:
    """A supervisor's count against our records (the digest, the audit trail): a shortage
    is received "of" what was expected, a surplus "instead of" it; each with its size."""
    amounts = {"received": format_tenge(received), "expected": format_tenge(expected)}
    difference = format_tenge(abs(received - expected))
    if received > expected:
        return _("received {received} instead of {expected} (surplus {difference})").format(
            difference=difference, **amounts
        )
    if received < expected:
        return _("received {received} of {expected} (shortage {difference})").format(
            difference=difference, **amounts
        )
    return _("received {received} of {expected}").format(**amounts)


def handover_digest_line(handover: Handover, names: Mapping[int, str]) -> str:
    head = f"{handover_number(handover)} {person(handover.cashier_id, names)}: "
    if handover.state is HandoverState.CONFIRMED:
        line = head + handover_count(handover.received or Decimal(0), handover.expected)
        if handover.written_off_at is not None:
            line += " · " + _("written off")
        return line
    return head + handover_state_label(handover, names)


def confirm_unrecorded() -> str:
    """A confirm the journal did not answer: the cashier must not start a second top-up."""
    return "\n".join(
        [
            _("⚠️ Our records are not answering right now: this top-up is not confirmed yet."),
            _(
                "Do not take more cash and do not start it again. If it was recorded, this "
                "message shows its status by itself within a minute; if not, tap "
                "«🔄 Try again» in a minute."
            ),
        ]
    )


def temporarily_unavailable() -> str:
    """A step that could not be handled because a part of the bot is away."""
    return _(
        "⏳ Temporarily unavailable — nothing was sent to Allpay. Please try again in a minute."
    )


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


def decision_unrecorded() -> str:
    """A supervisor's decision the journal did not answer (a pop-up: at most 200 characters)."""
    return _(
        "⚠️ Our records are not answering: your decision may not be recorded. If it was, "
        "the cards show it within a minute; if not, press again then."
    )


def top_up_cancelled(*, cash_asked: bool = True) -> str:
    """A top-up ended by the cashier before anything was sent."""
    if not cash_asked:
        return _("✖️ Top-up cancelled. Nothing was sent to Allpay.")
    return _("✖️ Top-up cancelled. Nothing was sent to Allpay: give the cash back if you took it.")


def work_ended(ended: WorkEnded) -> str:
    """What /cancel ended, and what it could not: only top-ups still without Allpay's final
    word (⏳, ⚠️) — never the ones that are done."""
    lines: list[str] = []
    if ended.top_ups:
        lines.append(top_up_cancelled(cash_asked=ended.cash_asked))
    if ended.requests:
        lines.append(
            _("🚫 Approval request withdrawn. Nothing was sent to Allpay: give the cash back.")
        )
    if ended.handovers:
        lines.append(_("↩️ Cash handover withdrawn: the cash is still counted on you."))
    if ended.unfinished:
        lines.append(
            _(
                "⚠️ Already sent to Allpay and still without its final answer: it cannot be "
                "cancelled. Keep the cash; the result comes in the top-up's own message:"
            )
        )
        lines += [sent_line(payment) for payment in ended.unfinished[:5]]
    return "\n".join(lines) if lines else _("Nothing to cancel.")


def use_the_card() -> str:
    """Text typed while the confirmation card waits for a tap."""
    return _(
        "The top-up waits on the card above: tap «✅ Confirm», «✏️ Change amount» or "
        "«✖️ Cancel» there."
    )
