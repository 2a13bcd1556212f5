"""/start, /help, /cancel, the fallback and the error handler."""

from __future__ import annotations

import logging
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandStart, ExceptionTypeFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ErrorEvent, Message
from aiogram.utils.i18n import gettext as _

from bot.payments.journal import StaffUser
from bot.payments.service import PaymentService
from bot.telegram import texts
from bot.telegram.filters import MenuButton
from bot.telegram.keyboards import MENU_HELP, main_menu

log = logging.getLogger(__name__)
router = Router(name="common")
fallback = Router(name="fallback")


def help_text() -> str:
    return _(
        "How to top up a wallet:\n"
        "1. Tap «💵 Top up» (or /cashin).\n"
        "2. Enter the client's login — their phone number, e.g. +7 701 000 00 01 — or send "
        "the client's contact.\n"
        "3. Check the client's name, enter the amount in whole tenge.\n"
        "4. Check the card and tap «Confirm». Take the cash only after ✅.\n\n"
        "✅ completed — the wallet is topped up.\n"
        "❌ declined — give the cash back.\n"
        "⏳ pending — Allpay is processing; the result will appear in the same message.\n\n"
        "/history — your payments, /find — look a payment up by GUID or login, "
        "/today — today's totals, /lang — language, /cancel — stop at any step."
    )


@router.message(CommandStart())
async def start(message: Message, state: FSMContext, staff: StaffUser) -> None:
    await state.clear()
    name = message.from_user.first_name if message.from_user else ""
    await message.answer(
        _("Hello, {name}! This bot tops up clients' Allpay wallets with cash.").format(
            name=escape(name)
        )
        + "\n\n"
        + help_text(),
        reply_markup=main_menu(),
    )


@router.message(Command("help"))
@router.message(MenuButton(MENU_HELP))
async def show_help(message: Message) -> None:
    await message.answer(help_text(), reply_markup=main_menu())


@router.message(Command("cancel"))
async def cancel(
    message: Message, state: FSMContext, staff: StaffUser, payments: PaymentService
) -> None:
    await state.clear()
    # All of it: the open card and any request still waiting for a supervisor. What already
    # went to Allpay cannot be called back: the cashier is told so, never "nothing was sent".
    sent = await payments.controls.end_work(staff.user_id)
    if not sent:
        await message.answer(_("Cancelled. Nothing was sent to Allpay."), reply_markup=main_menu())
        return
    lines = [
        _(
            "⚠️ Already sent to Allpay — it cannot be cancelled. Keep the cash; the result "
            "comes in the payment's own message:"
        )
    ]
    lines += [texts.sent_line(payment) for payment in sent[:5]]
    lines.append(_("Anything not yet sent is cancelled."))
    await message.answer("\n".join(lines), reply_markup=main_menu())


@fallback.message()
async def unknown_message(message: Message) -> None:
    await message.answer(
        _("I did not understand that. Choose an action in the menu or send /help."),
        reply_markup=main_menu(),
    )


@fallback.callback_query()
async def stale_button(callback: CallbackQuery) -> None:
    await callback.answer(_("This button is no longer active."), show_alert=False)


@router.errors(ExceptionTypeFilter(Exception), F.update.message.as_("message"))
async def error_in_message(event: ErrorEvent, message: Message) -> None:
    log.error(
        "update %d failed: %r", event.update.update_id, event.exception, exc_info=event.exception
    )
    await message.answer(_("Something went wrong on our side. Please try again."))


@router.errors(ExceptionTypeFilter(Exception), F.update.callback_query.as_("callback"))
async def error_in_callback(event: ErrorEvent, callback: CallbackQuery) -> None:
    log.error(
        "update %d failed: %r", event.update.update_id, event.exception, exc_info=event.exception
    )
    await callback.answer(_("Something went wrong on our side. Please try again."), show_alert=True)


@router.errors()
async def error_elsewhere(event: ErrorEvent) -> None:
    log.error(
        "update %d failed: %r", event.update.update_id, event.exception, exc_info=event.exception
    )
