"""An approval request's news, as the outbox delivers it: the cashier's notice (edited),
a supervisor's card (sent, or edited to its decision), the one reminder before expiry."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import ReplyParameters

from bot.domain.model import ApprovalState, OutboxItem, OutboxKind
from bot.telegram.approvals.keyboards import approval_keyboard, withdraw_keyboard
from bot.telegram.approvals.texts import approval_card, approval_notice, approval_reminder
from bot.telegram.shared.delivery import Delivery
from bot.usecases.deliveries import Due


async def deliver_approval(delivery: Delivery, batch: Sequence[OutboxItem], due: Due) -> bool:
    """The cashier's notice (edited), a supervisor's card (sent, or edited to its
    decision), or the one reminder before expiry (in reply to the card). Buttons only
    where they may be pressed: on a waiting card, never in the requester's own chat."""
    item = batch[0]
    approval, card, names = await delivery.desk.view(item.ref or "", item.chat_id)
    if approval is None:
        return False
    notice = item.kind is OutboxKind.APPROVAL_NOTICE
    waiting = approval.state is ApprovalState.WAITING
    if item.kind is OutboxKind.APPROVAL_REMINDER and not waiting:
        return False  # decided meanwhile: nothing to remind of
    lang = await delivery.language(approval.cashier_id if notice else item.chat_id)
    own = item.chat_id in (approval.cashier_id, approval.chat_id)
    tz, sandbox = delivery.tz, delivery.sandbox
    with delivery.speaking(lang):
        if notice:
            text = approval_notice(approval, names, tz, sandbox=sandbox)
            markup = withdraw_keyboard(approval.id) if waiting else None
        elif item.kind is OutboxKind.APPROVAL_REMINDER:
            text = approval_reminder(approval, names, tz)
            markup = None
        else:
            text = approval_card(approval, names, tz, sandbox=sandbox)
            markup = approval_keyboard(approval.id) if waiting and not own else None
    if notice:
        await delivery.edit_or_send(approval.chat_id, approval.message_id, text, markup)
    elif item.kind is OutboxKind.APPROVAL_REMINDER:
        await delivery.bot.send_message(
            chat_id=item.chat_id,
            text=text,
            reply_parameters=(
                ReplyParameters(message_id=card, allow_sending_without_reply=True)
                if card is not None
                else None
            ),
        )
    elif item.kind is OutboxKind.APPROVAL_CARD:
        if card is not None:
            await delivery.edit_or_send(item.chat_id, card, text, markup)
    else:
        sent = await delivery.bot.send_message(chat_id=item.chat_id, text=text, reply_markup=markup)
        now = await delivery.desk.card_sent(approval.id, item.chat_id, sent.message_id)
        # Decided while this card was on its way: show the decision, not live buttons.
        if now is not None and now.state is not ApprovalState.WAITING and waiting:
            with delivery.speaking(lang):
                decided = approval_card(now, names, tz, sandbox=sandbox)
            await delivery.edit_or_send(item.chat_id, sent.message_id, decided, None)
    return False
