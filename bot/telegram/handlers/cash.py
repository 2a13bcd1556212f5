"""/cash and /handover: the paper money each cashier holds, and its two-sided handover.

A cashier sees their cash on hand and hands it over: the amount counted, then who receives
it. The supervisor's card asks for the count: received as declared, another amount, or
nothing received; the first answer wins and nobody answers for their own cash. A
supervisor's /cash lists everyone's, with buttons to write a variance off (with a reason)
and to record a handover on behalf of a cashier who cannot declare it.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ForceReply, Message, ReplyParameters
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.domain.cash import Handover, HandoverOutcome, HandoverResult, HandoverState
from bot.domain.model import StaffUser
from bot.domain.parsing import AmountError, AmountProblem, clean_name, format_tenge, parse_count
from bot.telegram import texts
from bot.telegram.callbacks import CashRecordCb, HandoverAction, HandoverCb, HandoverToCb
from bot.telegram.filters import SUPERVISING, HasRole, Is, Typed
from bot.telegram.keyboards import (
    MENU,
    cash_book_keyboard,
    handover_card_keyboard,
    handover_notice_keyboard,
    receivers_keyboard,
)
from bot.telegram.states import Handing, Receiving
from bot.usecases.cash import CashDesk
from bot.usecases.people import People

#: A write-off's reason, at most (as typed; cleaned like names).
REASON_MAX = 300


def make_router() -> Router:
    """Everyone has cash of their own (supervisors and admins may top up too); answering a
    handover, writing off and recording are for supervisors and admins."""
    router = Router(name="cash")
    router.message.register(show_cash, Command("cash"))
    router.message.register(start_handover, Command("handover"))
    typed = Typed(MENU)
    router.message.register(amount_counted, StateFilter(Handing.amount), typed, Is(F.text))
    router.callback_query.register(
        receiver_chosen, HandoverToCb.filter(), StateFilter(Handing.receiver)
    )
    router.callback_query.register(withdraw, HandoverCb.filter(F.action == HandoverAction.WITHDRAW))

    supervising = Router(name="cash.supervising")
    supervising.callback_query.filter(HasRole(*SUPERVISING))
    supervising.message.filter(HasRole(*SUPERVISING))
    supervising.callback_query.register(
        received, HandoverCb.filter(F.action == HandoverAction.RECEIVED)
    )
    supervising.callback_query.register(
        nothing_received, HandoverCb.filter(F.action == HandoverAction.NOT_RECEIVED)
    )
    supervising.callback_query.register(
        ask_count, HandoverCb.filter(F.action == HandoverAction.OTHER_AMOUNT)
    )
    supervising.callback_query.register(
        ask_reason, HandoverCb.filter(F.action == HandoverAction.WRITE_OFF)
    )
    supervising.callback_query.register(ask_record, CashRecordCb.filter())
    supervising.message.register(answer_given, StateFilter(Receiving.answer), typed, Is(F.text))
    router.include_router(supervising)
    return router


def _count_problem(problem: AmountProblem) -> str:
    if problem is AmountProblem.NOT_POSITIVE:
        return _("The amount must be greater than zero.")
    if problem is AmountProblem.TOO_LARGE:
        return _("That is more than any cashier holds: check the amount.")
    return _("Enter the amount in digits, for example 5000 or 5 000.")


async def _parse_count(
    message: Message, text: str | None = None, *, zero: bool = False
) -> Decimal | None:
    """The cash counted (``text``, or the message's; tiyn allowed: a fee may have them), or
    None after telling what is wrong with it. ``zero``: nothing at all is an answer."""
    try:
        amount = parse_count(text or message.text or "")
    except AmountError as error:
        await message.answer(_count_problem(error.problem))
        return None
    if not amount and not zero:
        await message.answer(_count_problem(AmountProblem.NOT_POSITIVE))
        return None
    return amount


# ---------------------------------------------------------------- /cash


async def show_cash(message: Message, staff: StaffUser, cash: CashDesk, settings: Settings) -> None:
    if staff.role.sees_everyone:
        book = await cash.book()
        pages = texts.chunks(texts.cash_book(book.positions, book.names, settings.tz).split("\n"))
        markup = cash_book_keyboard(book.positions, book.names, staff.user_id)
        for number, page in enumerate(pages, start=1):
            await message.answer(page, reply_markup=markup if number == len(pages) else None)
        return
    position = await cash.position(staff.user_id)
    for page in texts.chunks(texts.cash_own(position, settings.tz).split("\n")):
        await message.answer(page)


# ---------------------------------------------------------------- the cashier hands over


async def start_handover(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    staff: StaffUser,
    cash: CashDesk,
    settings: Settings,
) -> None:
    position = await cash.position(staff.user_id)
    if position.waiting is not None:
        await _show_waiting(message, position.waiting, cash, settings)
        return
    await state.clear()
    await state.set_state(Handing.amount)
    if command.args:  # "/handover 50000": the count at once
        amount = await _parse_count(message, command.args)
        if amount is not None:
            await _choose_receiver(message, state, staff, cash, settings, amount)
        return
    await message.answer(texts.handover_prompt(position))


async def _show_waiting(
    message: Message, handover: Handover, cash: CashDesk, settings: Settings
) -> None:
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
        texts.handover_notice(handover, names, settings.tz),
        reply_markup=handover_notice_keyboard(handover),
    )
    await cash.declared_in(handover.id, sent.message_id)


async def amount_counted(
    message: Message, state: FSMContext, staff: StaffUser, cash: CashDesk, settings: Settings
) -> None:
    amount = await _parse_count(message)
    if amount is not None:
        await _choose_receiver(message, state, staff, cash, settings, amount)


async def _choose_receiver(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    cash: CashDesk,
    settings: Settings,
    amount: Decimal,
) -> None:
    receivers = await cash.receivers(staff.user_id)
    if len(receivers) > 1:
        await state.set_state(Handing.receiver)
        await state.update_data(amount=str(amount))
        await message.answer(
            texts.handover_receiver_prompt(amount), reply_markup=receivers_keyboard(receivers)
        )
        return
    await state.clear()
    result = await cash.declare(staff.user_id, message.chat.id, amount, None)
    await _declared(message, None, result, cash, settings)


async def receiver_chosen(
    callback: CallbackQuery,
    callback_data: HandoverToCb,
    state: FSMContext,
    staff: StaffUser,
    cash: CashDesk,
    settings: Settings,
) -> None:
    amount = (await state.get_data()).get("amount")
    message = callback.message
    if not isinstance(amount, str) or not isinstance(message, Message):
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    await state.clear()
    await callback.answer()
    receiver = callback_data.receiver or None
    result = await cash.declare(staff.user_id, message.chat.id, Decimal(amount), receiver)
    await _declared(message, message, result, cash, settings)


async def _declared(
    message: Message,
    prompt: Message | None,
    result: HandoverResult,
    cash: CashDesk,
    settings: Settings,
) -> None:
    """Tell the cashier what became of the declaration (in the receiver prompt, if any)."""
    handover = result.handover
    if result.outcome is HandoverOutcome.DECLARED and handover is not None:
        _now, _card, names = await cash.view(handover.id, message.chat.id)
        text = texts.handover_notice(handover, names, settings.tz)
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
        await _show_waiting(message, handover, cash, settings)
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
    settings: Settings,
) -> None:
    result = await cash.withdraw(callback_data.handover_id, staff.user_id)
    if result.outcome is HandoverOutcome.WITHDRAWN:
        await callback.answer(_("Withdrawn."))  # the outbox edits the message
        return
    if result.outcome is HandoverOutcome.NOT_YOURS or result.handover is None:
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    _now, _card, names = await cash.view(result.handover.id, 0)
    label = texts.handover_state_label(result.handover, names)
    await callback.answer(_("Already answered: {answer}").format(answer=label), show_alert=True)


# ---------------------------------------------------------------- supervisors answer


async def _answered(
    callback: CallbackQuery, result: HandoverResult, cash: CashDesk, settings: Settings
) -> bool:
    """Answer a press that changed nothing (True); False when the answer was recorded."""
    handover = result.handover
    if result.outcome in (HandoverOutcome.CONFIRMED, HandoverOutcome.DISPUTED):
        return False
    if result.outcome is HandoverOutcome.SELF:
        await callback.answer(_("You cannot receive your own cash."), show_alert=True)
    elif result.outcome is HandoverOutcome.NOT_YOURS and handover is not None:
        _now, _card, names = await cash.view(handover.id, 0)
        await callback.answer(
            _("The cashier chose {receiver} to receive it.").format(
                receiver=texts.person(handover.receiver_id, names)
            ),
            show_alert=True,
        )
    elif result.outcome is HandoverOutcome.ALREADY and handover is not None:
        await _show_card(callback, handover, cash, settings, alert=True)
    else:
        await callback.answer(_("This button is no longer active."), show_alert=True)
    return True


async def _show_card(
    callback: CallbackQuery,
    handover: Handover,
    cash: CashDesk,
    settings: Settings,
    *,
    alert: bool = False,
) -> None:
    """Answer the press and show the handover as it is on this card at once (the outbox
    updates the other cards) — only if the button is on this handover's own card."""
    message = callback.message
    chat_id = message.chat.id if isinstance(message, Message) else 0
    current, card, names = await cash.view(handover.id, chat_id)
    handover = current or handover
    if alert:
        label = texts.handover_state_label(handover, names)
        await callback.answer(_("Already answered: {answer}").format(answer=label), show_alert=True)
    else:
        await callback.answer()
    if not isinstance(message, Message) or card != message.message_id:
        return
    with contextlib.suppress(TelegramAPIError):
        await message.edit_text(
            texts.handover_card(handover, names, settings.tz),
            reply_markup=handover_card_keyboard(handover),
        )


async def received(
    callback: CallbackQuery,
    callback_data: HandoverCb,
    staff: StaffUser,
    cash: CashDesk,
    settings: Settings,
) -> None:
    result = await cash.confirm(callback_data.handover_id, staff.user_id)
    if not await _answered(callback, result, cash, settings) and result.handover:
        await _show_card(callback, result.handover, cash, settings)


async def nothing_received(
    callback: CallbackQuery,
    callback_data: HandoverCb,
    staff: StaffUser,
    cash: CashDesk,
    settings: Settings,
) -> None:
    result = await cash.dispute(callback_data.handover_id, staff.user_id)
    if not await _answered(callback, result, cash, settings) and result.handover:
        await _show_card(callback, result.handover, cash, settings)


# A supervisor may have several questions open at once (another amount for #1, a reason for
# #2): each prompt asks for a reply to itself (ForceReply), and the answer goes to the prompt
# it replies to — or, typed without replying, to the latest one. Never to another handover.
_PROMPTS = "prompts"
_LATEST = "latest"


async def _ask(
    callback: CallbackQuery, state: FSMContext, text: str, placeholder: str, target: dict[str, Any]
) -> None:
    message = callback.message
    assert isinstance(message, Message)
    await callback.answer()
    sent = await message.answer(
        text, reply_markup=ForceReply(input_field_placeholder=placeholder[:64])
    )
    data = await state.get_data() if await state.get_state() == Receiving.answer.state else {}
    prompts = dict(data.get(_PROMPTS) or {})
    prompts[str(sent.message_id)] = target
    await state.set_state(Receiving.answer)
    await state.set_data({_PROMPTS: prompts, _LATEST: str(sent.message_id)})


async def _target(message: Message, state: FSMContext) -> tuple[str, dict[str, Any]] | None:
    """The question this message answers (its prompt's id, what it asks), taken off the
    open ones."""
    data = await state.get_data()
    prompts: dict[str, dict[str, Any]] = dict(data.get(_PROMPTS) or {})
    replied = message.reply_to_message
    key = str(replied.message_id) if replied is not None else str(data.get(_LATEST))
    target = prompts.pop(key, None)
    if not prompts:
        await state.clear()
    else:
        await state.set_data({_PROMPTS: prompts, _LATEST: max(prompts, key=int)})
    return (key, target) if target is not None else None


async def _pressed(
    callback: CallbackQuery, data: HandoverCb, staff: StaffUser, cash: CashDesk, own: str
) -> Handover | None:
    """The handover a supervisor's button is about; None after saying why not (gone, not
    on a message, or ``own``: the presser's own cash)."""
    handover = await cash.get(data.handover_id)
    if handover is None or not isinstance(callback.message, Message):
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return None
    if handover.cashier_id == staff.user_id:
        await callback.answer(own, show_alert=True)
        return None
    return handover


async def ask_count(
    callback: CallbackQuery,
    callback_data: HandoverCb,
    state: FSMContext,
    staff: StaffUser,
    cash: CashDesk,
    settings: Settings,
) -> None:
    own = _("You cannot receive your own cash.")
    handover = await _pressed(callback, callback_data, staff, cash, own)
    if handover is None:
        return
    if handover.state is not HandoverState.DECLARED:
        await _show_card(callback, handover, cash, settings, alert=True)
        return
    number = texts.handover_number(handover)
    await _ask(
        callback,
        state,
        _("Handover {number}: send the amount you received, for example 50000.").format(
            number=number
        ),
        _("Amount received for {number}").format(number=number),
        {"count": handover.id},
    )


async def ask_record(
    callback: CallbackQuery,
    callback_data: CashRecordCb,
    state: FSMContext,
    cash: CashDesk,
    people: People,
) -> None:
    if not isinstance(callback.message, Message):
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    names = await people.names()
    seen = await cash.latest(callback_data.cashier_id)
    cashier = texts.person(callback_data.cashier_id, names)
    await _ask(
        callback,
        state,
        _(
            "Recording a handover on behalf of {cashier}: send the amount you received "
            "from them, for example 50000 (0 if nothing)."
        ).format(cashier=cashier),
        _("Amount received"),
        {"record": callback_data.cashier_id, "seen": seen},
    )


async def ask_reason(
    callback: CallbackQuery,
    callback_data: HandoverCb,
    state: FSMContext,
    staff: StaffUser,
    cash: CashDesk,
) -> None:
    own = _("You cannot write off your own cash.")
    handover = await _pressed(callback, callback_data, staff, cash, own)
    if handover is None:
        return
    if not handover.open_variance:
        await callback.answer(_("Nothing to write off: it is settled."), show_alert=True)
        return
    number = texts.handover_number(handover)
    await _ask(
        callback,
        state,
        _("Writing off {amount} of handover {number}: send the reason.").format(
            amount=format_tenge(abs(handover.variance)), number=number
        ),
        _("Reason for {number}").format(number=number),
        {"reason": handover.id},
    )


async def answer_given(
    message: Message, state: FSMContext, staff: StaffUser, cash: CashDesk, settings: Settings
) -> None:
    found = await _target(message, state)
    if found is None:
        await message.answer(_("This question is no longer open."))
        return
    key, target = found
    if "reason" in target:
        if not await _write_off(message, staff, cash, int(target["reason"])):
            await _ask_again(state, key, target)
        return
    recording = "record" in target
    amount = await _parse_count(message, zero=recording)
    if amount is None:
        await _ask_again(state, key, target)
        return
    if recording:
        result = await cash.record(
            staff.user_id, int(target["record"]), amount, int(target.get("seen", 0))
        )
    else:
        result = await cash.confirm(int(target["count"]), staff.user_id, amount)
    await _counted(message, result, cash, settings)


async def _ask_again(state: FSMContext, key: str, target: dict[str, Any]) -> None:
    """A bad answer keeps its question open (it was taken off in :func:`_target`)."""
    data = await state.get_data() if await state.get_state() == Receiving.answer.state else {}
    prompts = dict(data.get(_PROMPTS) or {})
    prompts[key] = target
    await state.set_state(Receiving.answer)
    await state.set_data({_PROMPTS: prompts, _LATEST: key})


async def _counted(
    message: Message, result: HandoverResult, cash: CashDesk, settings: Settings
) -> None:
    handover = result.handover
    if result.outcome in (HandoverOutcome.CONFIRMED, HandoverOutcome.RECORDED) and handover:
        # One result: the card in this chat shows the answer at once (the outbox's edit of
        # it then changes nothing); without a card here (a record on a cashier's behalf has
        # none), the answer is the one reply.
        _now, card, names = await cash.view(handover.id, message.chat.id)
        text = texts.handover_card(handover, names, settings.tz)
        if card is not None and await _edit_card(message, card, text):
            return
        await message.answer(text)
        return
    if result.outcome is HandoverOutcome.ALREADY and handover is not None:
        _now, _card, names = await cash.view(handover.id, message.chat.id)
        label = texts.handover_state_label(handover, names)
        await message.answer(
            _("Already answered: {answer}").format(
                answer=f"{texts.handover_number(handover)} {label}"
            )
        )
        return
    refusals = {
        HandoverOutcome.SELF: _("You cannot receive your own cash."),
        HandoverOutcome.OPEN: _("This cashier's handover is waiting: answer it on its card."),
        HandoverOutcome.NOT_YOURS: _("The cashier chose another supervisor to receive it."),
        HandoverOutcome.NOTHING: _("Nothing to hand over."),
    }
    await message.answer(refusals.get(result.outcome, _("This button is no longer active.")))


async def _edit_card(message: Message, card: int, text: str) -> bool:
    """Show ``text`` on the handover's card in this chat, without buttons (answered); False
    if the card cannot be edited (gone)."""
    bot = message.bot
    if bot is None:
        return False
    try:
        await bot.edit_message_text(
            text=text, chat_id=message.chat.id, message_id=card, reply_markup=None
        )
    except TelegramBadRequest as exc:
        return "not modified" in exc.message  # the outbox showed it first
    except TelegramAPIError:
        return False
    return True


async def _write_off(message: Message, staff: StaffUser, cash: CashDesk, handover_id: int) -> bool:
    """False if the reason was not usable (the question stays open)."""
    reason = clean_name(message.text or "", REASON_MAX)
    if not reason:
        await message.answer(_("Send the reason as text."))
        return False
    result = await cash.write_off(handover_id, staff.user_id, reason)
    handover = result.handover
    if result.outcome is HandoverOutcome.WRITTEN_OFF and handover is not None:
        _now, _card, names = await cash.view(handover.id, message.chat.id)
        await message.answer(texts.write_off_line(handover, names))
        return True
    refusals = {
        HandoverOutcome.SELF: _("You cannot write off your own cash."),
        HandoverOutcome.ALREADY: _("Nothing to write off: it is settled."),
        HandoverOutcome.NOTHING: _("Nothing to write off: it is settled."),
    }
    await message.answer(refusals.get(result.outcome, _("This button is no longer active.")))
    return True
