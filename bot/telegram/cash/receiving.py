"""The supervisors' side of a cash handover: the card's answers (received, another amount,
nothing received), write-offs and handovers recorded on a cashier's behalf."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ForceReply, Message
from aiogram.utils.i18n import gettext as _

from bot.domain.cash import Handover, HandoverOutcome, HandoverResult, HandoverState
from bot.domain.model import StaffUser
from bot.domain.parsing import AmountError, AmountProblem, clean_name, format_tenge, parse_count
from bot.telegram.cash import texts
from bot.telegram.cash.callbacks import CashRecordCb, HandoverCb
from bot.telegram.cash.keyboards import handover_card_keyboard
from bot.telegram.cash.notices import handover_card
from bot.telegram.cash.states import Question, Receiving, ReceivingData
from bot.telegram.shared.answers import PressAnswer
from bot.telegram.shared.texts import person
from bot.telegram.shared.view import View
from bot.usecases.cash import CashDesk
from bot.usecases.people import People

#: A write-off's reason, at most (as typed; cleaned like names).
REASON_MAX = 300


def _count_problem(problem: AmountProblem) -> str:
    if problem is AmountProblem.NOT_POSITIVE:
        return _("The amount must be greater than zero.")
    if problem is AmountProblem.TOO_LARGE:
        return _("That is more than any cashier holds: check the amount.")
    return _("Enter the amount in digits, for example 5000 or 5 000.")


async def read_count(
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


# ---------------------------------------------------------------- supervisors answer


async def _answered(
    callback: CallbackQuery,
    result: HandoverResult,
    cash: CashDesk,
    view: View,
    answer: PressAnswer,
) -> bool:
    """Say why a press changed nothing (True); False when the answer was recorded."""
    handover = result.handover
    if result.outcome in (HandoverOutcome.CONFIRMED, HandoverOutcome.DISPUTED):
        return False
    if result.outcome is HandoverOutcome.SELF:
        answer.alert(_("You cannot receive your own cash."))
    elif result.outcome is HandoverOutcome.NOT_YOURS and handover is not None:
        _now, _card, names = await cash.view(handover.id, 0)
        answer.alert(
            _("The cashier chose {receiver} to receive it.").format(
                receiver=person(handover.receiver_id, names)
            )
        )
    elif result.outcome is HandoverOutcome.ALREADY and handover is not None:
        await _show_card(callback, handover, cash, view, answer, alert=True)
    else:
        answer.alert(_("This button is no longer active."))
    return True


async def _show_card(
    callback: CallbackQuery,
    handover: Handover,
    cash: CashDesk,
    view: View,
    answer: PressAnswer,
    *,
    alert: bool = False,
) -> None:
    """Show the handover as it is on this card at once (the outbox updates the other
    cards) — only if the button is on this handover's own card; with ``alert``, the press
    is answered with its answer so far as an alert."""
    message = callback.message
    chat_id = message.chat.id if isinstance(message, Message) else 0
    current, card, names = await cash.view(handover.id, chat_id)
    handover = current or handover
    if alert:
        label = texts.handover_state_label(handover, names)
        answer.alert(_("Already answered: {answer}").format(answer=label))
    if not isinstance(message, Message) or card != message.message_id:
        return
    with contextlib.suppress(TelegramAPIError):
        await message.edit_text(
            handover_card(handover, names, view.tz),
            reply_markup=handover_card_keyboard(handover),
        )


async def received(
    callback: CallbackQuery,
    callback_data: HandoverCb,
    staff: StaffUser,
    cash: CashDesk,
    view: View,
    callback_answer: PressAnswer,
) -> None:
    result = await cash.confirm(callback_data.handover_id, staff.user_id)
    answered = await _answered(callback, result, cash, view, callback_answer)
    if not answered and result.handover:
        await _show_card(callback, result.handover, cash, view, callback_answer)


async def nothing_received(
    callback: CallbackQuery,
    callback_data: HandoverCb,
    staff: StaffUser,
    cash: CashDesk,
    view: View,
    callback_answer: PressAnswer,
) -> None:
    result = await cash.dispute(callback_data.handover_id, staff.user_id)
    answered = await _answered(callback, result, cash, view, callback_answer)
    if not answered and result.handover:
        await _show_card(callback, result.handover, cash, view, callback_answer)


# A supervisor may have several questions open at once (another amount for #1, a reason for
# #2): each prompt asks for a reply to itself (ForceReply), and the answer goes to the prompt
# it replies to — or, typed without replying, to the latest one. Never to another handover.


async def _ask(
    message: Message, state: FSMContext, text: str, placeholder: str, question: Question
) -> None:
    """Ask a question in reply to ``message`` (the card or the cash book pressed)."""
    sent = await message.answer(
        text, reply_markup=ForceReply(input_field_placeholder=placeholder[:64])
    )
    await _keep_open(state, sent.message_id, question)


async def _keep_open(state: FSMContext, prompt: int, question: Question) -> None:
    """``question`` (asked in ``prompt``) is open, the latest, beside any others."""
    data = await ReceivingData.open(state)
    await state.set_state(Receiving.answer)
    await ReceivingData({**data.prompts, prompt: question}, prompt).save(state)


async def _target(message: Message, state: FSMContext) -> tuple[int, Question] | None:
    """The question this message answers (its prompt's id, what it asks), taken off the
    open ones."""
    data = await ReceivingData.load(state)
    replied = message.reply_to_message
    key = replied.message_id if replied is not None else data.latest
    prompts = dict(data.prompts)
    question = prompts.pop(key, None) if key is not None else None
    await ReceivingData(prompts, max(prompts, default=None)).save(state)
    return (key, question) if key is not None and question is not None else None


async def _pressed(
    data: HandoverCb,
    staff: StaffUser,
    cash: CashDesk,
    answer: PressAnswer,
    own: str,
) -> Handover | None:
    """The handover a supervisor's button is about; None after saying why not (gone, or
    ``own``: the presser's own cash)."""
    handover = await cash.get(data.handover_id)
    if handover is None:
        answer.alert(_("This button is no longer active."))
        return None
    if handover.cashier_id == staff.user_id:
        answer.alert(own)
        return None
    return handover


async def ask_count(
    callback: CallbackQuery,
    callback_data: HandoverCb,
    state: FSMContext,
    staff: StaffUser,
    cash: CashDesk,
    view: View,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    own = _("You cannot receive your own cash.")
    handover = await _pressed(callback_data, staff, cash, callback_answer, own)
    if handover is None:
        return
    if handover.state is not HandoverState.DECLARED:
        await _show_card(callback, handover, cash, view, callback_answer, alert=True)
        return
    number = texts.handover_number(handover)
    await _ask(
        message,
        state,
        _("Handover {number}: send the amount you received, for example 50000.").format(
            number=number
        ),
        _("Amount received for {number}").format(number=number),
        Question("count", handover.id),
    )


async def ask_record(
    callback: CallbackQuery,
    callback_data: CashRecordCb,
    state: FSMContext,
    cash: CashDesk,
    people: People,
    message: Message,
) -> None:
    names = await people.names()
    seen = await cash.latest(callback_data.cashier_id)
    cashier = person(callback_data.cashier_id, names)
    await _ask(
        message,
        state,
        _(
            "Recording a handover on behalf of {cashier}: send the amount you received "
            "from them, for example 50000 (0 if nothing)."
        ).format(cashier=cashier),
        _("Amount received"),
        Question("record", callback_data.cashier_id, seen),
    )


async def ask_reason(
    callback: CallbackQuery,
    callback_data: HandoverCb,
    state: FSMContext,
    staff: StaffUser,
    cash: CashDesk,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    own = _("You cannot write off your own cash.")
    handover = await _pressed(callback_data, staff, cash, callback_answer, own)
    if handover is None:
        return
    if not handover.open_variance:
        callback_answer.alert(_("Nothing to write off: it is settled."))
        return
    number = texts.handover_number(handover)
    await _ask(
        message,
        state,
        _("Writing off {amount} of handover {number}: send the reason.").format(
            amount=format_tenge(abs(handover.variance)), number=number
        ),
        _("Reason for {number}").format(number=number),
        Question("reason", handover.id),
    )


async def answer_given(
    message: Message, state: FSMContext, staff: StaffUser, cash: CashDesk, view: View
) -> None:
    found = await _target(message, state)
    if found is None:
        await message.answer(_("This question is no longer open."))
        return
    prompt, question = found
    if question.kind == "reason":
        if not await _write_off(message, staff, cash, question.subject):
            await _keep_open(state, prompt, question)  # a bad answer keeps it open
        return
    recording = question.kind == "record"
    amount = await read_count(message, zero=recording)
    if amount is None:
        await _keep_open(state, prompt, question)
        return
    if recording:
        result = await cash.record(staff.user_id, question.subject, amount, question.seen)
    else:
        result = await cash.confirm(question.subject, staff.user_id, amount)
    await _counted(message, result, cash, view)


async def _counted(message: Message, result: HandoverResult, cash: CashDesk, view: View) -> None:
    handover = result.handover
    if result.outcome in (HandoverOutcome.CONFIRMED, HandoverOutcome.RECORDED) and handover:
        # One result: the card in this chat shows the answer at once (the outbox's edit of
        # it then changes nothing); without a card here (a record on a cashier's behalf has
        # none), the answer is the one reply.
        _now, card, names = await cash.view(handover.id, message.chat.id)
        text = handover_card(handover, names, view.tz)
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
