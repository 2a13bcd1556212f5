"""/history's lines, a top-up's card and its receipt in the chat."""

from __future__ import annotations

from datetime import tzinfo
from html import escape

from aiogram.utils.i18n import gettext as _

from bot.documents import receipt as documents
from bot.domain.masking import mask_login
from bot.domain.model import Payment
from bot.domain.parsing import format_login, format_tenge
from bot.domain.receipts import Receipt
from bot.telegram.shared.texts import (
    local_time,
    marked,
    receipt_number,
    sandbox_mark,
    status_label,
    unrepeated,
)


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
    allpay_says = unrepeated(payment.user_message, _("❌ Top-up declined"))  # head says it
    if allpay_says:
        lines.append(_("Allpay: {message}").format(message=escape(allpay_says)))
    if staff_view and payment.last_error and not payment.status.is_final:
        lines.append(_("Last error: {error}").format(error=escape(payment.last_error)))
    return "\n".join(marked(lines, sandbox))


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
