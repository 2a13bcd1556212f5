"""A cash handover's news, as the outbox delivers it: the supervisors' cards and the
cashier's notice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from decimal import Decimal

from aiogram.utils.i18n import gettext as _

from bot.domain.cash import Handover, HandoverState
from bot.domain.model import OutboxItem, OutboxKind
from bot.domain.parsing import format_tenge
from bot.telegram.cash.keyboards import handover_card_keyboard, handover_notice_keyboard
from bot.telegram.cash.texts import handover_number, variance_line, write_off_line
from bot.telegram.shared.delivery import Delivery
from bot.telegram.shared.texts import local_time, person
from bot.usecases.deliveries import Due


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
            variance_line(handover),
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
            variance_line(handover),
        ]
    elif state is HandoverState.DISPUTED:
        lines += ["", _("🚫 {who}: nothing received, at {time}").format(who=who, time=when)]
    else:
        lines += ["", _("↩️ Withdrawn at {time}").format(time=when)]
    if handover.written_off_at is not None:
        lines.append(write_off_line(handover, names))
    return "\n".join(lines)


# ---------------------------------------------------------------- delivered by the outbox


async def deliver_handover(delivery: Delivery, batch: Sequence[OutboxItem], due: Due) -> bool:
    """A supervisor's card (sent, or edited to its answer) or the cashier's notice."""
    item = batch[0]
    handover_id = int(item.ref or 0)
    handover, card, names = await delivery.cash.view(handover_id, item.chat_id)
    if handover is None:
        return False
    notice = item.kind is OutboxKind.HANDOVER_NOTICE
    lang = await delivery.language(handover.cashier_id if notice else item.chat_id)
    with delivery.speaking(lang):
        news = handover_news(handover, names) if notice else None
        if notice:
            text = handover_notice(handover, names, delivery.tz)
            markup = handover_notice_keyboard(handover)
        else:
            text = handover_card(handover, names, delivery.tz)
            markup = handover_card_keyboard(handover)
    if notice:
        # The declaration message becomes the handover as it is now (its "withdraw"
        # button goes once answered); a message that cannot be edited is sent anew.
        anew, changed = await delivery.show(item.chat_id, handover.message_id, text, markup)
        if news is not None and anew is None and changed and handover.message_id is not None:
            # An edit makes no sound: someone else's answer is told in a short reply
            # to it (only by the delivery that changed it: a retry tells nothing twice).
            await delivery.ring(item.chat_id, handover.message_id, news)
    elif item.kind is OutboxKind.HANDOVER_CARD:
        if card is not None:
            await delivery.edit_or_send(item.chat_id, card, text, markup)
    else:
        sent = await delivery.bot.send_message(chat_id=item.chat_id, text=text, reply_markup=markup)
        now = await delivery.cash.card_sent(handover.id, item.chat_id, sent.message_id)
        # Answered while this card was on its way: show the answer, not live buttons.
        if now is not None and now.state is not handover.state and markup is not None:
            with delivery.speaking(lang):
                answered = handover_card(now, names, delivery.tz)
            await delivery.edit_or_send(item.chat_id, sent.message_id, answered, None)
    return False
