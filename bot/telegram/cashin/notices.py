"""A top-up's news, as the outbox delivers it: the cashier's status message (edited into
the card), a stuck payment's alert and the supervisors' feed of final ones."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from html import escape

from aiogram.utils.i18n import gettext as _

from bot.domain.masking import mask_login
from bot.domain.model import OutboxItem, Payment, Status
from bot.domain.parsing import format_login, format_tenge
from bot.telegram.cashin.keyboards import final_keyboard
from bot.telegram.shared.delivery import Delivery
from bot.telegram.shared.texts import (
    TELEGRAM_TEXT_LIMIT,
    local_time,
    marked,
    short_guid,
    unrepeated,
)
from bot.usecases.deliveries import Due

log = logging.getLogger(__name__)


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
        reason = unrepeated(payment.user_message, head[0])
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
    return "\n".join(marked([*head, "", *_details(payment, tz)], sandbox))


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


# ---------------------------------------------------------------- delivered by the outbox

#: A final status this long after the confirm tap also comes as a new, notifying message.
LATE_FINAL = timedelta(minutes=1)


async def deliver_status(delivery: Delivery, batch: Sequence[OutboxItem], due: Due) -> bool:
    """The cashier's status message of one payment (its status items rendered once)."""
    ids = [i.id for i in batch]
    payment = due.payments.get(batch[0].guid or "")
    if payment is None:
        await delivery.deliveries.done(ids, failed="payment not found")
        return True
    await show_status(delivery, ids, payment)
    return True


async def show_status(delivery: Delivery, ids: list[int], payment: Payment) -> None:
    """The card edited into the payment's status as the journal has it now (``ids``: the
    status items this delivers, marked done with it)."""
    lang = await delivery.language(payment.cashier_id, payment.lang)
    with delivery.speaking(lang):
        text = status_text(payment, delivery.tz, sandbox=delivery.sandbox)
        markup = final_keyboard(payment)
        late = late_final(payment) if _late(payment) else None
    sent, changed = await delivery.show(payment.chat_id, payment.message_id, text, markup)
    # Only the delivery that shows the final status tells anew: an earlier item retried
    # later finds the message already final ("not modified") and says nothing more.
    if late is not None and sent is None and changed and payment.message_id is not None:
        # An edit makes no sound: a cashier who left the chat after ⏳ is told anew,
        # in a short message that points at the card.
        await delivery.ring(payment.chat_id, payment.message_id, late)
    log.debug("outbox %s: status delivered to chat %d", ids, payment.chat_id)
    await delivery.deliveries.status_done(ids, payment, sent)


def _cashier_name(payment: Payment, names: dict[int, str]) -> str:
    return names.get(payment.cashier_id) or str(payment.cashier_id)


async def deliver_alert(delivery: Delivery, batch: Sequence[OutboxItem], due: Due) -> bool:
    """A supervisor chat's alert of a payment still without a final answer."""
    item = batch[0]
    payment = due.payments.get(item.guid or "")
    if payment is None:
        await delivery.deliveries.done([i.id for i in batch], failed="payment not found")
        return True
    lang = await delivery.language(item.chat_id)
    with delivery.speaking(lang):
        text = supervisor_alert(payment, _cashier_name(payment, due.names), delivery.clock())
    await delivery.bot.send_message(chat_id=item.chat_id, text=text)
    return False


async def deliver_feed(delivery: Delivery, batch: Sequence[OutboxItem], due: Due) -> bool:
    """Final payments for one supervisor chat: one message listing them all (in parts
    of at most 4096 characters; each part's items are marked delivered as it goes)."""
    lines: list[tuple[int, str]] = []
    missing: list[int] = []
    for item in batch:
        payment = due.payments.get(item.guid or "")
        if payment is None:
            missing.append(item.id)
            continue
        name = _cashier_name(payment, due.names)
        lines.append((item.id, feed_line(payment, name)))
    if missing:
        await delivery.deliveries.done(missing, failed="payment not found")
    part: list[tuple[int, str]] = []
    size = 0
    for entry in lines:
        if part and size + len(entry[1]) + 1 > TELEGRAM_TEXT_LIMIT:
            await _send_feed_part(delivery, batch[0].chat_id, part)
            part, size = [], 0
        part.append(entry)
        size += len(entry[1]) + 1
    if part:
        await _send_feed_part(delivery, batch[0].chat_id, part)
    return True


async def _send_feed_part(
    delivery: Delivery, chat_id: int, part: Sequence[tuple[int, str]]
) -> None:
    text = "\n".join(line for _id, line in part)
    await delivery.bot.send_message(chat_id=chat_id, text=text[:TELEGRAM_TEXT_LIMIT])
    await delivery.deliveries.done(item_id for item_id, _line in part)


def _late(payment: Payment) -> bool:
    """A final answer more than :data:`LATE_FINAL` after the confirm tap."""
    return (
        payment.status.is_final
        and payment.final_at is not None
        and payment.final_at - payment.created_at > LATE_FINAL
    )
