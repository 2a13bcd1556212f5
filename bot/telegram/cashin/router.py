"""The cash-in conversation: login → client → amount → confirmation card → Allpay.

Each handler parses what came, calls one step of :class:`~bot.usecases.cashin.CashIn` and
renders its outcome. The conversation state holds only the draft's id and its current prompt.
This module builds the router and holds step 1, the login; step 2 is :mod:`.amount`, the
card's buttons :mod:`.confirm`."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain.limits import LimitKind
from bot.domain.model import StaffUser
from bot.domain.parsing import format_login, normalize_login
from bot.telegram.approvals.callbacks import ApprovalAction, ApprovalCb
from bot.telegram.cashin import texts
from bot.telegram.cashin.amount import (
    amount_other,
    amount_pressed,
    amount_typed,
    ask_amount,
    card_waits,
)
from bot.telegram.cashin.callbacks import (
    AgainCb,
    AmountCb,
    DraftAction,
    DraftCb,
    RecentCb,
    RetryCheckCb,
)
from bot.telegram.cashin.confirm import cancel_card, change_amount, confirm, withdraw
from bot.telegram.cashin.keyboards import recent_clients_keyboard, retry_check_keyboard
from bot.telegram.cashin.prompts import next_step, on_prompt
from bot.telegram.cashin.states import CashIn, CashInData
from bot.telegram.shared.answers import PressAnswer
from bot.telegram.shared.filters import Is, MenuButton, OnMessage, Typed
from bot.telegram.shared.menu import MENU, MENU_TOP_UP, main_menu
from bot.telegram.shared.view import View
from bot.usecases.cashin import CashIn as CashInSteps
from bot.usecases.lookup import Check, Found

LOGIN_EXAMPLE = "+7 701 000 00 01"


def make_router() -> Router:
    """Every role tops up (supervisors and admins may be cashiers too).

    What is typed at a step never takes a command or a menu button (``Typed``): those reach
    their own routers at any step, so this router may come early, where the conversation's
    steps are found fast."""
    router = Router(name="cashin")
    router.message.register(ask_login, Command("cashin"))
    router.message.register(ask_login, MenuButton(MENU_TOP_UP))
    steps = Router(name="cashin.steps")
    steps.message.filter(Typed(MENU))
    login, amount = StateFilter(CashIn.login), StateFilter(CashIn.amount)
    steps.message.register(login_given, login, Is(F.contact | F.text))
    steps.message.register(login_other, login)
    steps.message.register(amount_typed, amount, Is(F.text))
    steps.message.register(amount_other, amount)
    steps.message.register(card_waits, StateFilter(CashIn.confirm))
    router.include_router(steps)
    # A request is withdrawn wherever its card is; every other button acts on its message.
    router.callback_query.register(withdraw, ApprovalCb.filter(F.action == ApprovalAction.WITHDRAW))
    pressed = Router(name="cashin.pressed")
    pressed.callback_query.filter(OnMessage())
    pressed.callback_query.register(retry_check, RetryCheckCb.filter(), login)
    pressed.callback_query.register(recent_pressed, RecentCb.filter(), login)
    pressed.callback_query.register(again, AgainCb.filter())
    pressed.callback_query.register(amount_pressed, AmountCb.filter(), amount)
    pressed.callback_query.register(
        confirm,
        DraftCb.filter(F.action == DraftAction.CONFIRM),
        flags={"callback_answer": {"pre": True}},  # the spinner stops before the payment
    )
    pressed.callback_query.register(change_amount, DraftCb.filter(F.action == DraftAction.EDIT))
    pressed.callback_query.register(cancel_card, DraftCb.filter(F.action == DraftAction.CANCEL))
    router.include_router(pressed)
    return router


# ---------------------------------------------------------------- step 1: the login


async def ask_login(
    message: Message, state: FSMContext, staff: StaffUser, cashin: CashInSteps
) -> None:
    used_up = await cashin.used_up(staff.user_id)
    if used_up is not None:
        # Nothing could be topped up today: said before a login is typed. The conversation
        # that was on (another step's question) ends: typed text is not taken for it.
        await state.clear()
        await message.answer(texts.limit_used_up(used_up))
        return
    await cashin.begin(staff.user_id)
    await state.clear()
    await state.set_state(CashIn.login)
    recent = await cashin.recent_clients(staff.user_id)
    prompt = _(
        "Enter the client's Allpay login — their phone number, for example {example} — "
        "or send the client's contact."
    ).format(example=LOGIN_EXAMPLE)
    if recent:
        prompt += "\n" + _("Or choose one of your recent clients:")
    sent = await message.answer(prompt, reply_markup=recent_clients_keyboard(recent))
    await CashInData(prompt=sent.message_id).save(state)


async def recent_pressed(
    callback: CallbackQuery,
    callback_data: RecentCb,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    view: View,
    i18n: I18n,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    """A recent client's button: as if the login were typed; the prompt becomes the answer."""
    if not await on_prompt(message, state, callback_answer):
        return
    login = normalize_login(callback_data.login)
    if login is None:
        return
    await callback_answer.now()  # before Allpay is asked: the spinner stops
    await _look_up(message, state, staff, cashin, view, i18n, login, edit=True)


async def again(
    callback: CallbackQuery,
    callback_data: AgainCb,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    view: View,
    i18n: I18n,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    """ "Again for this client" under a final status: a new top-up for the same login, the
    client checked with Allpay afresh. The status message itself stays as it is."""
    login = await cashin.client_of(callback_data.guid, staff.user_id)
    if login is None:
        callback_answer.alert(_("This button is no longer active."))
        return
    await callback_answer.now()  # before Allpay is asked: the spinner stops
    await cashin.begin(staff.user_id)
    await state.clear()
    await state.set_state(CashIn.login)
    await _look_up(message, state, staff, cashin, view, i18n, login)


async def login_given(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    view: View,
    i18n: I18n,
) -> None:
    """The login, typed or shared as the client's contact."""
    typed = message.contact.phone_number if message.contact else message.text or ""
    login = normalize_login(typed)
    if login is None:
        await message.answer(_login_error())
        return
    await _look_up(message, state, staff, cashin, view, i18n, login)


async def _look_up(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    view: View,
    i18n: I18n,
    login: str,
    *,
    edit: bool = False,
) -> None:
    """Ask Allpay who the client is (a draft keeps the login) and show the answer."""
    check = await cashin.check_login(staff.user_id, message.chat.id, login, i18n.current_locale)
    if check.draft is not None:
        await (await CashInData.load(state)).update(state, draft=check.draft.id)
    await _show_check(message, state, check, login, view, edit=edit)


async def login_other(message: Message) -> None:
    await message.answer(_login_error())


def _login_error() -> str:
    return _(
        "That is not a phone number. Enter the client's login like {example} or 87010000001."
    ).format(example=LOGIN_EXAMPLE)


async def _show_check(
    message: Message,
    state: FSMContext,
    check: Check,
    login: str,
    view: View,
    *,
    edit: bool = False,
) -> None:
    """What Allpay said of the login: the client and the amount prompt, or why not. With
    ``edit`` the bot's own ``message`` (the prompt just answered) becomes this step."""
    if check.found is Found.ENDED:
        await state.clear()
        await message.answer(_("Let's start again: tap «💵 Top up»."), reply_markup=main_menu())
    elif check.found is Found.NO_CLIENT:
        text = _(
            "No Allpay client with the login {login}. Check the number and enter it again."
        ).format(login=format_login(login))
        await next_step(message, text, None, edit=edit, state=state)
    elif check.found is Found.LIMIT and check.limit is not None:
        if check.limit.kind is LimitKind.CLIENT_SUM:
            # The login step stays: another client's login may follow.
            text = texts.limit_used_up(check.limit) + "\n" + _("Enter another login or /cancel.")
            await next_step(message, text, None, edit=edit, state=state)
        else:  # the cashier's own limit ran out meanwhile: no top-up today
            await state.clear()
            await next_step(message, texts.limit_used_up(check.limit), None, edit=edit)
    elif check.found is Found.REFUSED:
        # A Fault is unsigned: the bot's own words, its text quoted as unverified.
        text = texts.lookup_refused(check.code, check.message)
        await next_step(message, text, retry_check_keyboard(), edit=edit, state=state)
    elif check.found is Found.UNREACHABLE or check.client is None:
        text = _("Allpay is not answering right now. Nothing was paid. Try again in a minute.")
        await next_step(message, text, retry_check_keyboard(), edit=edit, state=state)
    else:
        await state.set_state(CashIn.amount)
        intro = texts.client_card(login, check.client, sandbox=view.sandbox)
        if check.limit is not None and check.limit.left < view.amount_max:
            intro += "\n" + texts.limit_left(check.limit)
        await ask_amount(message, state, view, intro, edit=edit)


async def retry_check(
    callback: CallbackQuery,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    view: View,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    if not await on_prompt(message, state, callback_answer):
        return
    draft = await cashin.current((await CashInData.load(state)).draft, staff.user_id)
    if draft is None:
        return
    await callback_answer.now()  # before Allpay is asked: the spinner stops
    check = await cashin.check_again(draft)
    await _show_check(message, state, check, draft.login, view, edit=True)
