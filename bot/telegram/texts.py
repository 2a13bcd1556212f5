"""Everything a person reads about a payment, rendered in the current locale.

Status messages lead with their icon (✅ completed, ❌ declined, ⏳ pending); no other message
starts with ✅ or ❌.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from html import escape

from aiogram.utils.i18n import gettext as _

from bot.allpay.protocol import ClientInfo, mask_login
from bot.payments.journal import Draft, Payment, Status
from bot.payments.parsing import format_tenge


def local_time(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%d.%m.%Y %H:%M:%S")


def short_guid(guid: str) -> str:
    return guid.strip("{}")[:8]


def client_card(login: str, client: ClientInfo) -> str:
    lines = [
        _("Client: <b>{name}</b>").format(name=escape(client.full_name)),
        _("Login: {login}").format(login=login),
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
    return "\n".join(lines)


def confirm_card(draft: Draft) -> str:
    return "\n".join(
        [
            _("Check and confirm the top-up:"),
            "",
            _("Client: <b>{name}</b>").format(name=escape(draft.client_name)),
            _("Login: {login}").format(login=draft.login),
            _("Amount: <b>{amount}</b>").format(amount=format_tenge(draft.amount)),
        ]
    )


def _details(payment: Payment, tz: tzinfo) -> list[str]:
    return [
        _("Amount: <b>{amount}</b>").format(amount=format_tenge(payment.amount)),
        _("Client: {name}").format(name=escape(payment.client_name)),
        _("Login: {login}").format(login=payment.login),
        _("GUID: <code>{guid}</code>").format(guid=payment.guid),
        _("Time: {time}").format(time=local_time(payment.final_at or payment.created_at, tz)),
    ]


def status_text(payment: Payment, tz: tzinfo) -> str:
    """The cashier's status message for a payment, as the journal has it now."""
    status = payment.status
    if status is Status.COMPLETED:
        head = [_("✅ Top-up completed")]
    elif status is Status.DECLINED:
        head = [_("❌ Top-up declined")]
        if payment.user_message:
            head.append(_("Allpay: {message}").format(message=escape(payment.user_message)))
        head.append(_("Give the cash back to the client."))
    elif status is Status.UNKNOWN:
        head = [
            _(
                "⚠️ Allpay gave no final answer in time: the payment needs manual "
                "reconciliation. Do not pay again and do not give the cash back until a "
                "supervisor has checked it."
            )
        ]
    elif status is Status.NEW:
        head = [_("⏳ Sending to Allpay…")]
    else:
        head = [_("⏳ Allpay is processing the top-up; the result will appear here.")]
    return "\n".join([*head, "", *_details(payment, tz)])


def supervisor_final(payment: Payment, cashier: str) -> str:
    labels = {
        Status.COMPLETED: _("completed"),
        Status.DECLINED: _("declined"),
        Status.UNKNOWN: _("needs reconciliation"),
    }
    return _("{icon} {amount} · {login} · {status}\nCashier: {cashier} · {guid}").format(
        icon=payment.status.icon,
        amount=format_tenge(payment.amount),
        login=mask_login(payment.login),
        status=labels.get(payment.status, payment.status.value),
        cashier=escape(cashier),
        guid=short_guid(payment.guid),
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
