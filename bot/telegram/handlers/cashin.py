"""The cash-in conversation: login → client → amount → confirmation card → Allpay."""

from __future__ import annotations

import contextlib
import logging
from decimal import Decimal
from html import escape

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.allpay.client import AllpayClient
from bot.allpay.protocol import AllpayError, AllpayErrorKind, mask_login
from bot.config import Settings
from bot.payments.controls import ConfirmOutcome
from bot.payments.journal import Draft, Journal, StaffUser
from bot.payments.parsing import (
    AmountError,
    AmountProblem,
    format_tenge,
    normalize_login,
    parse_amount,
)
from bot.payments.service import PaymentService
from bot.telegram import texts
from bot.telegram.callbacks import AmountCb, DraftAction, DraftCb, RetryCheckCb
from bot.telegram.filters import MenuButton
from bot.telegram.keyboards import (
    MENU_TOP_UP,
    change_or_cancel_keyboard,
    confirm_keyboard,
    main_menu,
    quick_amounts,
    retry_check_keyboard,
)
from bot.telegram.states import CashIn

log = logging.getLogger(__name__)
router = Router(name="cashin")

LOGIN_EXAMPLE = "+7 701 000 00 01"


# ---------------------------------------------------------------- step 1: the login


@router.message(Command("cashin"))
@router.message(MenuButton(MENU_TOP_UP))
async def ask_login(
    message: Message, state: FSMContext, staff: StaffUser, journal: Journal
) -> None:
    await journal.cancel_drafts(staff.user_id)
    await state.clear()
    await state.set_state(CashIn.login)
    await message.answer(
        _(
            "Enter the client's Allpay login — their phone number, for example {example} — "
            "or send the client's contact."
        ).format(example=LOGIN_EXAMPLE)
    )


@router.message(CashIn.login, F.contact | F.text)
async def login_given(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    journal: Journal,
    allpay: AllpayClient,
    settings: Settings,
    i18n: I18n,
) -> None:
    """The login, typed or shared as the client's contact."""
    typed = message.contact.phone_number if message.contact else message.text or ""
    await _take_login(message, state, staff, journal, typed, allpay, settings, i18n)


@router.message(CashIn.login)
async def login_other(message: Message) -> None:
    await message.answer(_login_error())


def _login_error() -> str:
    return _(
        "That is not a phone number. Enter the client's login like {example} or 87010000001."
    ).format(example=LOGIN_EXAMPLE)


async def _take_login(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    journal: Journal,
    typed: str,
    allpay: AllpayClient,
    settings: Settings,
    i18n: I18n,
) -> None:
    login = normalize_login(typed)
    if login is None:
        await message.answer(_login_error())
        return
    # The login is kept in the draft; the conversation state holds only the draft's id.
    draft = await journal.start_draft(
        cashier_id=staff.user_id, chat_id=message.chat.id, login=login, lang=i18n.current_locale
    )
    await state.update_data(draft=draft.id)
    await _check_client(message, state, draft, journal, allpay, settings)


async def _current_draft(state: FSMContext, staff: StaffUser, journal: Journal) -> Draft | None:
    """The draft this conversation works on, if it is still the cashier's and unfinished."""
    draft_id = (await state.get_data()).get("draft")
    draft = await journal.get_draft(draft_id) if isinstance(draft_id, str) else None
    if draft is None or draft.cashier_id != staff.user_id:
        return None
    return draft if draft.state in ("LOGIN", "CLIENT", "OPEN") else None


async def _check_client(
    message: Message,
    state: FSMContext,
    draft: Draft,
    journal: Journal,
    allpay: AllpayClient,
    settings: Settings,
) -> None:
    login = draft.login
    try:
        result = await allpay.check_user(login, draft.lang)
    except AllpayError as exc:
        log.warning("check %s failed: %s", mask_login(login), exc.kind)
        if exc.kind is AllpayErrorKind.FAULT and exc.user_message:
            # Allpay's wording arrives before any signature check: text, never markup.
            text = _("Allpay refused the check: {message}").format(message=escape(exc.user_message))
        else:
            text = _("Allpay is not answering right now. Nothing was paid. Try again in a minute.")
        await message.answer(text, reply_markup=retry_check_keyboard())
        return
    if result.client is None:
        await message.answer(
            _(
                "No Allpay client with the login {login}. Check the number and enter it again."
            ).format(login=login)
        )
        return
    await journal.set_draft_client(
        draft.id,
        draft.cashier_id,
        client_name=result.client.full_name,
        identified=result.client.identified,
    )
    await state.set_state(CashIn.amount)
    await _ask_amount(message, settings, texts.client_card(login, result.client))


@router.callback_query(RetryCheckCb.filter(), CashIn.login)
async def retry_check(
    callback: CallbackQuery,
    state: FSMContext,
    staff: StaffUser,
    journal: Journal,
    allpay: AllpayClient,
    settings: Settings,
) -> None:
    await callback.answer()
    draft = await _current_draft(state, staff, journal)
    if draft is None or not isinstance(callback.message, Message):
        return
    with contextlib.suppress(TelegramBadRequest):
        await callback.message.edit_reply_markup(reply_markup=None)
    await _check_client(callback.message, state, draft, journal, allpay, settings)


# ---------------------------------------------------------------- step 2: the amount


async def _ask_amount(message: Message, settings: Settings, intro: str | None = None) -> None:
    prompt = _("Enter the amount in whole tenge, from {minimum} to {maximum}:").format(
        minimum=format_tenge(settings.amount_min), maximum=format_tenge(settings.amount_max)
    )
    await message.answer(
        f"{intro}\n\n{prompt}" if intro else prompt,
        reply_markup=quick_amounts(settings.amount_min, settings.amount_max),
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


@router.message(CashIn.amount, F.text)
async def amount_typed(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    journal: Journal,
    payments: PaymentService,
    settings: Settings,
    i18n: I18n,
) -> None:
    try:
        amount = parse_amount(message.text or "", settings.amount_min, settings.amount_max)
    except AmountError as exc:
        await message.answer(_amount_error(exc.problem, settings))
        return
    await _show_card(message, state, staff, journal, payments, amount)


@router.message(CashIn.amount)
async def amount_other(message: Message, settings: Settings) -> None:
    await message.answer(_amount_error(AmountProblem.NOT_A_NUMBER, settings))


@router.callback_query(AmountCb.filter(), CashIn.amount)
async def amount_pressed(
    callback: CallbackQuery,
    callback_data: AmountCb,
    state: FSMContext,
    staff: StaffUser,
    journal: Journal,
    payments: PaymentService,
    settings: Settings,
    i18n: I18n,
) -> None:
    await callback.answer()
    amount = Decimal(callback_data.amount)
    if not (settings.amount_min <= amount <= settings.amount_max) or not isinstance(
        callback.message, Message
    ):
        return
    with contextlib.suppress(TelegramBadRequest):
        await callback.message.edit_reply_markup(reply_markup=None)
    await _show_card(callback.message, state, staff, journal, payments, amount)


async def _show_card(
    message: Message,
    state: FSMContext,
    staff: StaffUser,
    journal: Journal,
    payments: PaymentService,
    amount: Decimal,
) -> None:
    draft = await _current_draft(state, staff, journal)
    if draft is None or draft.state == "LOGIN":
        await state.clear()
        await message.answer(_("Let's start again: tap «💵 Top up»."), reply_markup=main_menu())
        return
    refusal = await payments.controls.limit_refusal(
        staff.user_id, draft.login, amount, payments.today()
    )
    if refusal is not None:
        await message.answer(
            texts.limit_refusal(refusal) + "\n" + _("Enter a smaller amount or /cancel.")
        )
        return
    if draft.state == "OPEN":  # a new amount over a card: that card dies, a new one comes
        draft = await journal.reopen_draft(draft.id, staff.user_id) or draft
        await state.set_data({"draft": draft.id})
    card = await journal.open_card(draft.id, staff.user_id, amount)
    if card is None:  # ended meanwhile (/cancel, a block)
        await state.clear()
        await message.answer(_("Let's start again: tap «💵 Top up»."), reply_markup=main_menu())
        return
    sent = await message.answer(texts.confirm_card(card), reply_markup=confirm_keyboard(card.id))
    await journal.set_draft_card(card.id, sent.message_id)
    await state.set_state(CashIn.confirm)


# ---------------------------------------------------------------- step 3: the card


@router.callback_query(DraftCb.filter(F.action == DraftAction.CONFIRM))
async def confirm(
    callback: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    staff: StaffUser,
    journal: Journal,
    payments: PaymentService,
) -> None:
    # Best effort: a late query ("query is too old") must not stop a confirm.
    with contextlib.suppress(TelegramAPIError):
        await callback.answer()
    message = callback.message
    draft = await journal.get_draft(callback_data.draft_id)
    if draft is not None and draft.state == "OPEN" and not _on_card(draft, callback):
        return  # pressed on a message that is not its card: nothing changes
    message_id = message.message_id if message is not None else None
    chat_id = message.chat.id if message is not None else None
    result = await payments.confirm(callback_data.draft_id, staff.user_id, message_id, chat_id)
    if result.outcome is ConfirmOutcome.REFUSED and result.refusal is not None:
        # Nothing journaled: the card stays, without its confirm button.
        with contextlib.suppress(TelegramBadRequest):
            if isinstance(message, Message):
                await message.edit_text(
                    texts.limit_refusal(result.refusal) + "\n" + _("Nothing was sent."),
                    reply_markup=change_or_cancel_keyboard(callback_data.draft_id),
                )
        return
    if result.outcome is ConfirmOutcome.AWAITING:
        # The card belongs to the outbox now (waiting, then the decision, then the status).
        await state.clear()
        return
    payment = result.payment
    if payment is None:
        # A second tap, a replayed update, a cancelled card, a button pressed on a message
        # that is not its card: nothing changes. Once a payment exists its message belongs
        # to the outbox, which keeps it at the journal's status; re-rendering here could put
        # an older status over a newer one.
        if (
            result.outcome is ConfirmOutcome.STALE
            and draft is not None
            and _on_card(draft, callback)
            and await journal.payment_for_draft(callback_data.draft_id) is None
            and await payments.controls.approval_for_draft(callback_data.draft_id) is None
        ):
            await _edit(message, _("This confirmation is no longer valid. Nothing was sent."))
        return
    # The payment is journaled: it is sent now, before anything is said to Telegram, so no
    # Telegram wait can delay money. The card becomes its status message through the outbox.
    payments.send_soon(payment.guid)
    await state.clear()


@router.callback_query(DraftCb.filter(F.action == DraftAction.EDIT))
async def change_amount(
    callback: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    staff: StaffUser,
    journal: Journal,
    settings: Settings,
) -> None:
    await callback.answer()
    draft = await _open_draft(callback, callback_data, staff, journal)
    if draft is None:
        return
    again = await journal.reopen_draft(draft.id, staff.user_id)
    if again is None:
        return
    await state.set_state(CashIn.amount)
    await state.set_data({"draft": again.id})
    await _edit(callback.message, _("✏️ Changing the amount…"))
    if isinstance(callback.message, Message):
        await _ask_amount(callback.message, settings)


@router.callback_query(DraftCb.filter(F.action == DraftAction.CANCEL))
async def cancel_card(
    callback: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    staff: StaffUser,
    journal: Journal,
    settings: Settings,
) -> None:
    await callback.answer()
    draft = await _open_draft(callback, callback_data, staff, journal)
    if draft is None:
        return
    await journal.cancel_drafts(staff.user_id)
    await state.clear()
    await _edit(callback.message, _("✖️ Top-up cancelled. Nothing was sent to Allpay."))
    if isinstance(callback.message, Message):
        await callback.message.answer(_("Choose an action:"), reply_markup=main_menu())


async def _open_draft(
    callback: CallbackQuery, callback_data: DraftCb, staff: StaffUser, journal: Journal
) -> Draft | None:
    """The cashier's own open draft behind a card button, or None (the card is then told).

    A button acts only on its own card: pressed on any other message it changes nothing."""
    draft = await journal.get_draft(callback_data.draft_id)
    if draft is None or draft.cashier_id != staff.user_id:
        return None
    if not _on_card(draft, callback):
        return None
    if draft.state == "OPEN":
        return draft
    # Only a card with no payment is touched: a payment's message belongs to the outbox.
    if await journal.payment_for_draft(callback_data.draft_id) is None:
        await _edit(callback.message, _("This confirmation is no longer valid. Nothing was sent."))
    return None


def _on_card(draft: Draft, callback: CallbackQuery) -> bool:
    """Whether the button was pressed on the draft's own card: the card the draft recorded,
    or — not recorded yet (a crash right after showing it) — a message that carries the
    pressed button."""
    message = callback.message
    if not isinstance(message, Message) or message.chat.id != draft.chat_id:
        return False
    if draft.card_message_id is not None:
        return message.message_id == draft.card_message_id
    buttons = message.reply_markup.inline_keyboard if message.reply_markup else []
    return any(button.callback_data == callback.data for row in buttons for button in row)


async def _edit(message: Message | InaccessibleMessage | None, text: str) -> None:
    """Replace a card's text and drop its buttons; 'not modified' is the same state."""
    if not isinstance(message, Message):
        return
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_text(text, reply_markup=None)
