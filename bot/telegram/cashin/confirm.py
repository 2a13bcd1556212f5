"""Step 3 of the cash-in conversation: the card's buttons (confirm, change the amount,
cancel) and the waiting request's "withdraw"."""

from __future__ import annotations

import contextlib

from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.domain.model import (
    ConfirmOutcome,
    Draft,
    DraftState,
    StaffUser,
    Withdrawal,
)
from bot.telegram.approvals.callbacks import ApprovalCb
from bot.telegram.cashin import texts
from bot.telegram.cashin.amount import ask_amount
from bot.telegram.cashin.callbacks import DraftCb
from bot.telegram.cashin.keyboards import change_or_cancel_keyboard, retry_confirm_keyboard
from bot.telegram.cashin.states import CashIn, CashInData
from bot.telegram.shared.answers import PressAnswer
from bot.telegram.shared.view import View
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.cashin import CashIn as CashInSteps


async def confirm(
    callback: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    view: View,
    message: Message,
) -> None:
    """Registered with ``pre``: the press is answered before anything else (the spinner stops
    before Allpay is paid), best effort — a late query ("query is too old") never stops it."""
    button = await cashin.button(callback_data.draft_id, message.chat.id, message.message_id)
    draft = button.draft
    on_card = draft is not None and _on_card(draft, message, callback.data)
    if draft is not None and draft.state is DraftState.OPEN and not on_card:
        return  # pressed on a message that is not its card: nothing changes
    result = await cashin.confirm(
        callback_data.draft_id,
        staff.user_id,
        chat_id=message.chat.id,
        message_id=message.message_id,
    )
    if result.outcome is ConfirmOutcome.REFUSED and result.refusal is not None:
        # Nothing journaled: the card stays, without its confirm button.
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_text(
                texts.limit_refusal(result.refusal) + "\n" + _("Nothing was sent."),
                reply_markup=change_or_cancel_keyboard(callback_data.draft_id),
            )
        return
    if result.outcome is ConfirmOutcome.NO_DECIDER:
        # Nobody else may approve it any more: nothing asked, the card may change its amount.
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_text(
                texts.no_other_decider(view.approval_threshold)
                + "\n"
                + _("Nothing was sent to Allpay: give the cash back if you took it."),
                reply_markup=change_or_cancel_keyboard(callback_data.draft_id),
            )
        return
    if result.outcome is ConfirmOutcome.UNRECORDED:
        # The journal did not answer. If the confirm landed anyway, the outbox turns this
        # card into its status within seconds; if not, the same draft may be confirmed
        # again — never a second top-up (one draft, one payment).
        try:
            with contextlib.suppress(TelegramBadRequest):
                await message.edit_text(
                    texts.confirm_unrecorded(),
                    reply_markup=retry_confirm_keyboard(callback_data.draft_id),
                )
        finally:
            cashin.look_again()  # only now: its status, if any, lands after this edit
        return
    if result.outcome in (ConfirmOutcome.AWAITING, ConfirmOutcome.PAID):
        # The payment is being sent; the card belongs to the outbox now (waiting, the
        # decision, the status): it is never re-rendered here.
        await state.clear()
        return
    # A second tap, a replayed update, a cancelled card, a button pressed on a message that
    # is not its card: nothing changes. Only a card no payment or request came from is told.
    if (
        result.outcome is ConfirmOutcome.STALE
        and draft is not None
        and draft.cashier_id == staff.user_id  # another's press in a shared group: nothing
        and not button.settled
        and not button.taken
        and on_card
    ):
        await _edit(message, _("This confirmation is no longer valid. Nothing was sent."))
    elif (
        result.outcome is ConfirmOutcome.STALE
        and draft is not None
        and draft.cashier_id == staff.user_id
        and button.settled
        and on_card
    ):
        # Its confirm did become a payment (the card said "not confirmed yet" over it):
        # the card shows that payment again.
        await cashin.show_again(draft.id)


async def withdraw(
    callback: CallbackQuery,
    callback_data: ApprovalCb,
    staff: StaffUser,
    desk: ApprovalDesk,
    callback_answer: PressAnswer,
) -> None:
    """The waiting card's "Withdraw request": the card turns into the cancellation through
    the outbox (its only writer once the request exists)."""
    outcome = await desk.withdraw(callback_data.approval_id, staff.user_id)
    if outcome is Withdrawal.WITHDRAWN:
        callback_answer.text = _("Request withdrawn. Nothing was sent to Allpay.")
    elif outcome is Withdrawal.TOO_LATE:
        callback_answer.alert(_("This request is no longer waiting."))
    else:
        callback_answer.alert(_("This button is no longer active."))


async def change_amount(
    callback: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    view: View,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    draft = await _open_draft(callback, message, callback_data, staff, cashin, callback_answer)
    if draft is None:
        return
    again = await cashin.change_amount(draft.id, staff.user_id)
    if again is None:
        return
    await state.set_state(CashIn.amount)
    await CashInData(draft=again).save(state)
    # The card becomes the amount prompt again (its buttons act on the new draft).
    await ask_amount(message, state, view, edit=True)


async def cancel_card(
    callback: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    draft = await _open_draft(callback, message, callback_data, staff, cashin, callback_answer)
    if draft is None:
        return
    await cashin.cancel(staff.user_id)
    await state.clear()
    # The menu stays on screen (a persistent keyboard): nothing more to send.
    await _edit(message, texts.top_up_cancelled())


async def _open_draft(
    callback: CallbackQuery,
    message: Message,
    callback_data: DraftCb,
    staff: StaffUser,
    cashin: CashInSteps,
    answer: PressAnswer,
) -> Draft | None:
    """The cashier's own open draft behind a card button; or None, the button refused in an
    alert. A stale button never edits its message: the message may
    have become a later step, or a payment's status (the outbox's alone)."""
    button = await cashin.button(callback_data.draft_id, message.chat.id, message.message_id)
    draft = button.draft
    if (
        draft is not None
        and draft.cashier_id == staff.user_id
        and draft.state is DraftState.OPEN
        and _on_card(draft, message, callback.data)
    ):
        return draft
    answer.alert(_("This button is no longer active."))
    return None


def _on_card(draft: Draft, message: Message, data: str | None) -> bool:
    """Whether the button (its callback ``data``) was pressed on the draft's own card: a
    message that carries the pressed button now (a card edited into the next step has lost
    it), and the card the draft recorded — or, not recorded yet (a crash right after showing
    it), any such one."""
    if message.chat.id != draft.chat_id:
        return False
    buttons = message.reply_markup.inline_keyboard if message.reply_markup else []
    if not any(button.callback_data == data for row in buttons for button in row):
        return False
    return draft.card_message_id is None or message.message_id == draft.card_message_id


async def _edit(message: Message, text: str) -> None:
    """Replace a card's text and drop its buttons; 'not modified' is the same state."""
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_text(text, reply_markup=None)
