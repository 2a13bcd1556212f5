"""The cash-in conversation: login → client → amount → confirmation card → Allpay.

Each handler parses what came, calls one step of :class:`~bot.usecases.cashin.CashIn` and
renders its outcome. The conversation state holds only the draft's id.
"""

from __future__ import annotations

import contextlib
import logging
from decimal import Decimal

from aiogram import F, Router
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramServerError,
)
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.domain.limits import LimitKind
from bot.domain.model import ConfirmOutcome, Draft, DraftState, StaffUser, Withdrawal
from bot.domain.parsing import (
    AmountError,
    AmountProblem,
    format_login,
    format_tenge,
    normalize_login,
    parse_amount,
)
from bot.telegram import texts
from bot.telegram.callbacks import (
    AgainCb,
    AmountCb,
    ApprovalAction,
    ApprovalCb,
    DraftAction,
    DraftCb,
    RecentCb,
    RetryCheckCb,
)
from bot.telegram.filters import Is, MenuButton, Typed
from bot.telegram.keyboards import (
    MENU,
    MENU_TOP_UP,
    change_or_cancel_keyboard,
    confirm_keyboard,
    main_menu,
    quick_amounts,
    recent_clients_keyboard,
    retry_check_keyboard,
    retry_confirm_keyboard,
)
from bot.telegram.states import CashIn, CashInData
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.cashin import AmountStep
from bot.usecases.cashin import CashIn as CashInSteps
from bot.usecases.lookup import Check, Found

LOGIN_EXAMPLE = "+7 701 000 00 01"

log = logging.getLogger(__name__)


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
    router.callback_query.register(retry_check, RetryCheckCb.filter(), login)
    router.callback_query.register(recent_pressed, RecentCb.filter(), login)
    router.callback_query.register(again, AgainCb.filter())
    router.callback_query.register(amount_pressed, AmountCb.filter(), amount)
    router.callback_query.register(withdraw, ApprovalCb.filter(F.action == ApprovalAction.WITHDRAW))
    router.callback_query.register(confirm, DraftCb.filter(F.action == DraftAction.CONFIRM))
    router.callback_query.register(change_amount, DraftCb.filter(F.action == DraftAction.EDIT))
    router.callback_query.register(cancel_card, DraftCb.filter(F.action == DraftAction.CANCEL))
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
    settings: Settings,
    i18n: I18n,
) -> None:
    """A recent client's button: as if the login were typed; the prompt becomes the answer."""
    if not await _on_prompt(callback, state):
        return
    assert isinstance(callback.message, Message)
    login = normalize_login(callback_data.login)
    if login is None:
        return
    await _look_up(callback.message, state, staff, cashin, settings, i18n, login, edit=True)


async def again(
    callback: CallbackQuery,
    callback_data: AgainCb,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    settings: Settings,
    i18n: I18n,
) -> None:
    """ "Again for this client" under a final status: a new top-up for the same login, the
    client checked with Allpay afresh. The status message itself stays as it is."""
    login = await cashin.client_of(callback_data.guid, staff.user_id)
    if login is None or not isinstance(callback.message, Message):
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    await callback.answer()
    await cashin.begin(staff.user_id)
    await state.clear()
    await state.set_state(CashIn.login)
    await _look_up(callback.message, state, staff, cashin, settings, i18n, login)


async def login_given(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    settings: Settings,
    i18n: I18n,
) -> None:
    """The login, typed or shared as the client's contact."""
    typed = message.contact.phone_number if message.contact else message.text or ""
    login = normalize_login(typed)
    if login is None:
        await message.answer(_login_error())
        return
    await _look_up(message, state, staff, cashin, settings, i18n, login)


async def _look_up(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    settings: Settings,
    i18n: I18n,
    login: str,
    *,
    edit: bool = False,
) -> None:
    """Ask Allpay who the client is (a draft keeps the login) and show the answer."""
    check = await cashin.check_login(staff.user_id, message.chat.id, login, i18n.current_locale)
    if check.draft is not None:
        await (await CashInData.load(state)).update(state, draft=check.draft.id)
    await _show_check(message, state, check, login, settings, edit=edit)


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
    settings: Settings,
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
        await _step(message, text, None, edit=edit, state=state)
    elif check.found is Found.LIMIT and check.limit is not None:
        if check.limit.kind is LimitKind.CLIENT_SUM:
            # The login step stays: another client's login may follow.
            text = texts.limit_used_up(check.limit) + "\n" + _("Enter another login or /cancel.")
            await _step(message, text, None, edit=edit, state=state)
        else:  # the cashier's own limit ran out meanwhile: no top-up today
            await state.clear()
            await _step(message, texts.limit_used_up(check.limit), None, edit=edit)
    elif check.found is Found.REFUSED:
        # A Fault is unsigned: the bot's own words, its text quoted as unverified.
        text = texts.lookup_refused(check.code, check.message)
        await _step(message, text, retry_check_keyboard(), edit=edit, state=state)
    elif check.found is Found.UNREACHABLE or check.client is None:
        text = _("Allpay is not answering right now. Nothing was paid. Try again in a minute.")
        await _step(message, text, retry_check_keyboard(), edit=edit, state=state)
    else:
        await state.set_state(CashIn.amount)
        intro = texts.client_card(login, check.client, sandbox=settings.uses_sandbox)
        if check.limit is not None and check.limit.left < settings.amount_max:
            intro += "\n" + texts.limit_left(check.limit)
        await _ask_amount(message, state, settings, intro, edit=edit)


async def _step(
    message: Message,
    text: str,
    markup: InlineKeyboardMarkup | None,
    *,
    edit: bool,
    state: FSMContext | None = None,
) -> Message:
    shown = await _show_step(message, text, markup, edit=edit)
    if state is not None:
        # The conversation's current prompt: its buttons act; any older message's do not.
        await (await CashInData.load(state)).update(state, prompt=shown.message_id)
    return shown


async def _on_prompt(callback: CallbackQuery, state: FSMContext) -> bool:
    """Whether a step's button (a preset, a recent client, "try again") was pressed on the
    conversation's current prompt; anywhere else — an older message, since edited into
    something else, perhaps a payment's status — it changes nothing. The query is answered."""
    prompt = (await CashInData.load(state)).prompt
    message = callback.message
    if isinstance(message, Message) and message.message_id == prompt:
        await callback.answer()
        return True
    await callback.answer(_("This button is no longer active."), show_alert=True)
    return False


async def _show_step(
    message: Message, text: str, markup: InlineKeyboardMarkup | None, *, edit: bool
) -> Message:
    """Show the conversation's next step: edited into the bot's own ``message`` (a prompt
    whose button was just pressed: no orphaned prompt, one message less), or as a new message
    after what the cashier typed. A message that cannot be edited any more, or an edit lost
    on the way, is sent anew: the step is never lost (at worst it shows twice)."""
    if edit:
        try:
            edited = await message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return message
        except (TelegramNetworkError, TelegramServerError) as exc:
            log.warning("editing the step failed (%s); sending it anew", type(exc).__name__)
        else:
            return edited if isinstance(edited, Message) else message
    return await message.answer(text, reply_markup=markup)


async def retry_check(
    callback: CallbackQuery,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    settings: Settings,
) -> None:
    if not await _on_prompt(callback, state):
        return
    assert isinstance(callback.message, Message)
    draft = await cashin.current((await CashInData.load(state)).draft, staff.user_id)
    if draft is None:
        return
    check = await cashin.check_again(draft)
    await _show_check(callback.message, state, check, draft.login, settings, edit=True)


# ---------------------------------------------------------------- step 2: the amount


async def _ask_amount(
    message: Message,
    state: FSMContext,
    settings: Settings,
    intro: str | None = None,
    *,
    edit: bool = False,
) -> None:
    prompt = _("Enter the amount in whole tenge, from {minimum} to {maximum}:").format(
        minimum=format_tenge(settings.amount_min), maximum=format_tenge(settings.amount_max)
    )
    await _step(
        message,
        f"{intro}\n\n{prompt}" if intro else prompt,
        quick_amounts(settings.amount_min, settings.amount_max),
        edit=edit,
        state=state,
    )


def _amount_error(problem: AmountProblem, settings: Settings) -> str:
    minimum, maximum = format_tenge(settings.amount_min), format_tenge(settings.amount_max)
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
    settings: Settings,
) -> None:
    try:
        amount = parse_amount(message.text or "", settings.amount_min, settings.amount_max)
    except AmountError as exc:
        await message.answer(_amount_error(exc.problem, settings))
        return
    await _show_card(message, state, staff, cashin, settings, amount)


async def amount_other(message: Message, settings: Settings) -> None:
    await message.answer(_amount_error(AmountProblem.NOT_A_NUMBER, settings))


async def amount_pressed(
    callback: CallbackQuery,
    callback_data: AmountCb,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    settings: Settings,
) -> None:
    if not await _on_prompt(callback, state):
        return
    amount = Decimal(callback_data.amount)
    if not (settings.amount_min <= amount <= settings.amount_max) or not isinstance(
        callback.message, Message
    ):
        return
    await _show_card(callback.message, state, staff, cashin, settings, amount, edit=True)


async def _show_card(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    settings: Settings,
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
        await message.answer(texts.no_other_decider(settings.approval_threshold))
        return
    card = step.draft
    if step.step is AmountStep.RESTART or card is None:  # ended meanwhile (/cancel, a block)
        await state.clear()
        await message.answer(_("Let's start again: tap «💵 Top up»."), reply_markup=main_menu())
        return
    if card.id != draft_id:
        await CashInData(draft=card.id).save(state)
    approval = step.approval
    sent = await _step(
        message,
        texts.confirm_card(
            card, settings.cashin_fee, approval=approval, sandbox=settings.uses_sandbox
        ),
        confirm_keyboard(card.id, approval=approval),
        edit=edit,
    )
    await cashin.card_shown(card.id, sent.message_id)
    await state.set_state(CashIn.confirm)


# ---------------------------------------------------------------- step 3: the card


async def card_waits(message: Message) -> None:
    """Text typed while the card is open: the card's buttons are the way on."""
    await message.answer(texts.use_the_card())


async def confirm(
    callback: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    settings: Settings,
) -> None:
    # Best effort: a late query ("query is too old") must not stop a confirm.
    with contextlib.suppress(TelegramAPIError):
        await callback.answer()
    message = callback.message
    button = await cashin.button(callback_data.draft_id, *_where(callback))
    draft = button.draft
    if draft is not None and draft.state is DraftState.OPEN and not _on_card(draft, callback):
        return  # pressed on a message that is not its card: nothing changes
    result = await cashin.confirm(
        callback_data.draft_id,
        staff.user_id,
        chat_id=message.chat.id if message is not None else None,
        message_id=message.message_id if message is not None else None,
    )
    if result.outcome is ConfirmOutcome.REFUSED and result.refusal is not None:
        # Nothing journaled: the card stays, without its confirm button.
        with contextlib.suppress(TelegramBadRequest):
            if isinstance(message, Message):
                await message.edit_text(
                    texts.limit_refusal(result.refusal) + "\n" + _("Nothing was sent."),
                    reply_markup=change_or_cancel_keyboard(callback_data.draft_id),
                )
        return
    if result.outcome is ConfirmOutcome.NO_DECIDER:
        # Nobody else may approve it any more: nothing asked, the card may change its amount.
        with contextlib.suppress(TelegramBadRequest):
            if isinstance(message, Message):
                await message.edit_text(
                    texts.no_other_decider(settings.approval_threshold)
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
                if isinstance(message, Message):
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
        and _on_card(draft, callback)
    ):
        await _edit(message, _("This confirmation is no longer valid. Nothing was sent."))
    elif (
        result.outcome is ConfirmOutcome.STALE
        and draft is not None
        and draft.cashier_id == staff.user_id
        and button.settled
        and _on_card(draft, callback)
    ):
        # Its confirm did become a payment (the card said "not confirmed yet" over it):
        # the card shows that payment again.
        await cashin.show_again(draft.id)


async def withdraw(
    callback: CallbackQuery, callback_data: ApprovalCb, staff: StaffUser, desk: ApprovalDesk
) -> None:
    """The waiting card's "Withdraw request": the card turns into the cancellation through
    the outbox (its only writer once the request exists)."""
    outcome = await desk.withdraw(callback_data.approval_id, staff.user_id)
    if outcome is Withdrawal.WITHDRAWN:
        await callback.answer(_("Request withdrawn. Nothing was sent to Allpay."))
    elif outcome is Withdrawal.TOO_LATE:
        await callback.answer(_("This request is no longer waiting."), show_alert=True)
    else:
        await callback.answer(_("This button is no longer active."), show_alert=True)


async def change_amount(
    callback: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
    settings: Settings,
) -> None:
    draft = await _open_draft(callback, callback_data, staff, cashin)
    if draft is None:
        return
    again = await cashin.change_amount(draft.id, staff.user_id)
    if again is None:
        return
    await state.set_state(CashIn.amount)
    await CashInData(draft=again).save(state)
    if isinstance(callback.message, Message):
        # The card becomes the amount prompt again (its buttons act on the new draft).
        await _ask_amount(callback.message, state, settings, edit=True)


async def cancel_card(
    callback: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    staff: StaffUser,
    cashin: CashInSteps,
) -> None:
    draft = await _open_draft(callback, callback_data, staff, cashin)
    if draft is None:
        return
    await cashin.cancel(staff.user_id)
    await state.clear()
    # The menu stays on screen (a persistent keyboard): nothing more to send.
    await _edit(callback.message, texts.top_up_cancelled())


async def _open_draft(
    callback: CallbackQuery, callback_data: DraftCb, staff: StaffUser, cashin: CashInSteps
) -> Draft | None:
    """The cashier's own open draft behind a card button, the query answered; or None, the
    button refused in an alert. A stale button never edits its message: the message may
    have become a later step, or a payment's status (the outbox's alone)."""
    button = await cashin.button(callback_data.draft_id, *_where(callback))
    draft = button.draft
    if (
        draft is not None
        and draft.cashier_id == staff.user_id
        and draft.state is DraftState.OPEN
        and _on_card(draft, callback)
    ):
        await callback.answer()
        return draft
    await callback.answer(_("This button is no longer active."), show_alert=True)
    return None


def _where(callback: CallbackQuery) -> tuple[int | None, int | None]:
    """The chat and message a button was pressed on."""
    message = callback.message
    if message is None:
        return None, None
    return message.chat.id, message.message_id


def _on_card(draft: Draft, callback: CallbackQuery) -> bool:
    """Whether the button was pressed on the draft's own card: a message that carries the
    pressed button now (a card edited into the next step has lost it), and the card the
    draft recorded — or, not recorded yet (a crash right after showing it), any such one."""
    message = callback.message
    if not isinstance(message, Message) or message.chat.id != draft.chat_id:
        return False
    buttons = message.reply_markup.inline_keyboard if message.reply_markup else []
    if not any(button.callback_data == callback.data for row in buttons for button in row):
        return False
    return draft.card_message_id is None or message.message_id == draft.card_message_id


async def _edit(message: Message | InaccessibleMessage | None, text: str) -> None:
    """Replace a card's text and drop its buttons; 'not modified' is the same state."""
    if not isinstance(message, Message):
        return
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_text(text, reply_markup=None)
