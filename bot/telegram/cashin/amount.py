"""Step 2 of the cash-in conversation: the amount, typed or a preset, and the card."""

from __future__ import annotations

from decimal import Decimal

from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.domain.limits import LimitKind
from bot.domain.model import StaffUser
from bot.domain.parsing import (
    AmountError,
    AmountProblem,
    format_tenge,
    parse_amount,
)
from bot.telegram.cashin import texts
from bot.telegram.cashin.callbacks import AmountCb
from bot.telegram.cashin.keyboards import confirm_keyboard, quick_amounts
from bot.telegram.cashin.prompts import next_step, on_prompt
from bot.telegram.cashin.states import CashIn, CashInData
from bot.telegram.shared.answers import PressAnswer
from bot.telegram.shared.menu import main_menu
from bot.telegram.shared.view import View
from bot.usecases.cashin import AmountStep
from bot.usecases.cashin import CashIn as CashInSteps


async def ask_amount(
    message: Message,
    state: FSMContext,
    view: View,
    intro: str | None = None,
    *,
    edit: bool = False,
) -> None:
    prompt = _("Enter the amount in whole tenge, from {minimum} to {maximum}:").format(
        minimum=format_tenge(view.amount_min), maximum=format_tenge(view.amount_max)
    )
    await next_step(
        message,
        f"{intro}\n\n{prompt}" if intro else prompt,
        quick_amounts(view.amount_min, view.amount_max),
        edit=edit,
        state=state,
    )


def _amount_error(problem: AmountProblem, view: View) -> str:
    minimum, maximum = format_tenge(view.amount_min), format_tenge(view.amount_max)
    messages = {
        AmountProblem.NOT_A_NUMBER: _("Enter the amount in digits, for example 5000 or 5 000."),
        AmountProblem.NOT_WHOLE: _("Whole tenge only, without tiyn: for example 5000."),
        AmountProblem.NOT_POSITIVE: _("The amount must be greater than zero."),
        AmountProblem.TOO_SMALL: _("The smallest top-up is {minimum}.").format(minimum=minimum),
        AmountProblem.TOO_LARGE: _("The largest top-up is {maximum}.").format(maximum=maximum),
    }
    return messages[problem]


async def amount_typed(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    view: View,
) -> None:
    try:
        amount = parse_amount(message.text or "", view.amount_min, view.amount_max)
    except AmountError as exc:
        await message.answer(_amount_error(exc.problem, view))
        return
    await _show_card(message, state, staff, cashin, view, amount)


async def amount_other(message: Message, view: View) -> None:
    await message.answer(_amount_error(AmountProblem.NOT_A_NUMBER, view))


async def amount_pressed(
    callback: CallbackQuery,
    callback_data: AmountCb,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    view: View,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    if not await on_prompt(message, state, callback_answer):
        return
    amount = Decimal(callback_data.amount)
    if not (view.amount_min <= amount <= view.amount_max):
        return
    await _show_card(message, state, staff, cashin, view, amount, edit=True)


async def _show_card(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    view: View,
    amount: Decimal,
    *,
    edit: bool = False,
) -> None:
    draft_id = (await CashInData.load(state)).draft
    step = await cashin.enter_amount(draft_id, staff.user_id, amount)
    if step.step is AmountStep.REFUSED and step.refusal is not None:
        await message.answer(
            texts.limit_refusal(step.refusal)
            + "\n"
            + (
                _("No more top-ups today: /cancel.")
                if step.refusal.kind is LimitKind.CASHIER_COUNT
                else _("Enter a smaller amount or /cancel.")
            )
        )
        return
    if step.step is AmountStep.NO_DECIDER:
        await message.answer(texts.no_other_decider(view.approval_threshold))
        return
    card = step.draft
    if step.step is AmountStep.RESTART or card is None:  # ended meanwhile (/cancel, a block)
        await state.clear()
        await message.answer(_("Let's start again: tap «💵 Top up»."), reply_markup=main_menu())
        return
    if card.id != draft_id:
        await CashInData(draft=card.id).save(state)
    approval = step.approval
    sent = await next_step(
        message,
        texts.confirm_card(card, view.fee, approval=approval, sandbox=view.sandbox),
        confirm_keyboard(card.id, approval=approval),
        edit=edit,
    )
    await cashin.card_shown(card.id, sent.message_id)
    await state.set_state(CashIn.confirm)


async def card_waits(message: Message) -> None:
    """Text typed while the card is open: the card's buttons are the way on."""
    await message.answer(texts.use_the_card())
