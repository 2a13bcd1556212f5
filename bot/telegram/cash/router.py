"""/cash and /handover: the paper money each cashier holds, and its two-sided handover.

A cashier sees their cash on hand and hands it over: the amount counted, then who receives
it. The supervisor's card asks for the count: received as declared, another amount, or
nothing received; the first answer wins and nobody answers for their own cash. A
supervisor's /cash lists everyone's, with buttons to write a variance off (with a reason)
and to record a handover on behalf of a cashier who cannot declare it. The supervisors'
side is :mod:`.receiving`."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyParameters
from aiogram.utils.i18n import gettext as _

from bot.domain.cash import Handover, HandoverOutcome, HandoverResult
from bot.domain.model import StaffUser
from bot.telegram.cash import texts
from bot.telegram.cash.callbacks import CashRecordCb, HandoverAction, HandoverCb, HandoverToCb
from bot.telegram.cash.keyboards import (
    cash_book_keyboard,
    handover_notice_keyboard,
    receivers_keyboard,
)
from bot.telegram.cash.notices import handover_notice
from bot.telegram.cash.receiving import (
    answer_given,
    ask_count,
    ask_reason,
    ask_record,
    nothing_received,
    read_count,
    received,
)
from bot.telegram.cash.states import Handing, HandingData, Receiving
from bot.telegram.shared.answers import PressAnswer
from bot.telegram.shared.desk import with_desk
from bot.telegram.shared.filters import SUPERVISING, HasRole, Is, OnMessage, Typed
from bot.telegram.shared.menu import MENU
from bot.telegram.shared.texts import chunks
from bot.telegram.shared.view import View
from bot.usecases.cash import CashDesk


def make_router() -> Router:
    """Everyone has cash of their own (supervisors and admins may top up too); answering a
    handover, writing off and recording are for supervisors and admins."""
    router = Router(name="cash")
    router.message.register(show_cash, Command("cash"))
    router.message.register(start_handover, Command("handover"))
    typed = Typed(MENU)
    router.message.register(amount_counted, StateFilter(Handing.amount), typed, Is(F.text))
    # A handover is withdrawn, or answered, wherever its message is; the other buttons act
    # on their message.
    router.callback_query.register(withdraw, HandoverCb.filter(F.action == HandoverAction.WITHDRAW))
    pressed = Router(name="cash.pressed")
    pressed.callback_query.filter(OnMessage())
    pressed.callback_query.register(
        receiver_chosen, HandoverToCb.filter(), StateFilter(Handing.receiver)
    )
    router.include_router(pressed)

    supervising = Router(name="cash.supervising")
    supervising.callback_query.filter(HasRole(*SUPERVISING))
    supervising.message.filter(HasRole(*SUPERVISING))
    supervising.callback_query.register(
        received, HandoverCb.filter(F.action == HandoverAction.RECEIVED)
    )
    supervising.callback_query.register(
        nothing_received, HandoverCb.filter(F.action == HandoverAction.NOT_RECEIVED)
    )
    supervising.message.register(answer_given, StateFilter(Receiving.answer), typed, Is(F.text))
    asking = Router(name="cash.supervising.pressed")
    asking.callback_query.filter(OnMessage())
    asking.callback_query.register(
        ask_count, HandoverCb.filter(F.action == HandoverAction.OTHER_AMOUNT)
    )
    asking.callback_query.register(
        ask_reason, HandoverCb.filter(F.action == HandoverAction.WRITE_OFF)
    )
    asking.callback_query.register(ask_record, CashRecordCb.filter())
    supervising.include_router(asking)
    router.include_router(supervising)
    return router


# ---------------------------------------------------------------- /cash


async def show_cash(message: Message, staff: StaffUser, cash: CashDesk, view: View) -> None:
    if staff.role.sees_everyone:
        book = await cash.book()
        pages = chunks(texts.cash_book(book.positions, book.names, view.tz).split("\n"))
        markup = with_desk(
            cash_book_keyboard(book.positions, book.names, staff.user_id), message, view
        )
        for number, page in enumerate(pages, start=1):
            await message.answer(page, reply_markup=markup if number == len(pages) else None)
        return
    position = await cash.position(staff.user_id)
    for page in chunks(texts.cash_own(position, view.tz).split("\n")):
        await message.answer(page)


# ---------------------------------------------------------------- the cashier hands over


async def start_handover(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    staff: StaffUser,
    cash: CashDesk,
    view: View,
) -> None:
    position = await cash.position(staff.user_id)
    if position.waiting is not None:
        await _show_waiting(message, position.waiting, cash, view)
        return
    await state.clear()
    await state.set_state(Handing.amount)
    if command.args:  # "/handover 50000": the count at once
        amount = await read_count(message, command.args)
        if amount is not None:
            await _choose_receiver(message, state, staff, cash, view, amount)
        return
    await message.answer(texts.handover_prompt(position))


async def _show_waiting(message: Message, handover: Handover, cash: CashDesk, view: View) -> None:
    """The handover that waits: in reply to its message, which shows its answer when it
    comes (a second copy would keep saying "waits"); without one, that message anew."""
    if handover.message_id is not None:
        await message.answer(
            texts.handover_waiting_reply(handover),
            reply_parameters=ReplyParameters(
                message_id=handover.message_id, allow_sending_without_reply=True
            ),
        )
        return
    _handover, _card, names = await cash.view(handover.id, message.chat.id)
    sent = await message.answer(
        handover_notice(handover, names, view.tz),
        reply_markup=handover_notice_keyboard(handover),
    )
    await cash.declared_in(handover.id, sent.message_id)


async def amount_counted(
    message: Message, state: FSMContext, staff: StaffUser, cash: CashDesk, view: View
) -> None:
    amount = await read_count(message)
    if amount is not None:
        await _choose_receiver(message, state, staff, cash, view, amount)


async def _choose_receiver(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    cash: CashDesk,
    view: View,
    amount: Decimal,
) -> None:
    receivers = await cash.receivers(staff.user_id)
    if len(receivers) > 1:
        await state.set_state(Handing.receiver)
        await HandingData(amount).save(state)
        await message.answer(
            texts.handover_receiver_prompt(amount), reply_markup=receivers_keyboard(receivers)
        )
        return
    await state.clear()
    result = await cash.declare(staff.user_id, message.chat.id, amount, None)
    await _declared(message, None, result, cash, view)


async def receiver_chosen(
    callback: CallbackQuery,
    callback_data: HandoverToCb,
    state: FSMContext,
    staff: StaffUser,
    cash: CashDesk,
    view: View,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    amount = (await HandingData.load(state)).amount
    if amount is None:
        callback_answer.alert(_("This button is no longer active."))
        return
    await state.clear()
    receiver = callback_data.receiver or None
    result = await cash.declare(staff.user_id, message.chat.id, amount, receiver)
    await _declared(message, message, result, cash, view)


async def _declared(
    message: Message,
    prompt: Message | None,
    result: HandoverResult,
    cash: CashDesk,
    view: View,
) -> None:
    """Tell the cashier what became of the declaration (in the receiver prompt, if any)."""
    handover = result.handover
    if result.outcome is HandoverOutcome.DECLARED and handover is not None:
        _now, _card, names = await cash.view(handover.id, message.chat.id)
        text = handover_notice(handover, names, view.tz)
        markup = handover_notice_keyboard(handover)
        sent: Message | bool
        if prompt is not None:
            sent = await prompt.edit_text(text, reply_markup=markup)
        else:
            sent = await message.answer(text, reply_markup=markup)
        message_id = sent.message_id if isinstance(sent, Message) else message.message_id
        await cash.declared_in(handover.id, message_id)
        return
    if result.outcome is HandoverOutcome.OPEN and handover is not None:
        await _show_waiting(message, handover, cash, view)
        return
    refusals = {
        HandoverOutcome.NO_RECEIVER: _("No supervisor can receive the cash: ask an admin."),
        HandoverOutcome.NOT_YOURS: _(
            "That supervisor cannot receive cash now: start again with /handover."
        ),
        HandoverOutcome.NOTHING: _("Nothing to hand over."),
    }
    text = refusals.get(result.outcome, _("This button is no longer active."))
    if prompt is not None:
        with contextlib.suppress(TelegramAPIError):
            await prompt.edit_text(text, reply_markup=None)
            return
    await message.answer(text)


async def withdraw(
    callback: CallbackQuery,
    callback_data: HandoverCb,
    staff: StaffUser,
    cash: CashDesk,
    callback_answer: PressAnswer,
) -> None:
    result = await cash.withdraw(callback_data.handover_id, staff.user_id)
    if result.outcome is HandoverOutcome.WITHDRAWN:
        callback_answer.text = _("Withdrawn.")  # the outbox edits the message
        return
    if result.outcome is HandoverOutcome.NOT_YOURS or result.handover is None:
        callback_answer.alert(_("This button is no longer active."))
        return
    _now, _card, names = await cash.view(result.handover.id, 0)
    label = texts.handover_state_label(result.handover, names)
    callback_answer.alert(_("Already answered: {answer}").format(answer=label))
