"""/start, /help, /cancel, the fallback and the error handlers."""

from __future__ import annotations

import logging
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandStart, ExceptionTypeFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ErrorEvent, Message
from aiogram.utils.i18n import gettext as _

from bot.domain.model import StaffUser
from bot.telegram import texts
from bot.telegram.commands import help_text
from bot.telegram.filters import Is, MenuButton, Typed
from bot.telegram.keyboards import MENU, MENU_HELP, main_menu
from bot.usecases.people import People

log = logging.getLogger(__name__)


def make_router() -> Router:
    """First of all: /start, /help and /cancel work at every step, and errors are caught."""
    router = Router(name="common")
    router.message.filter(~Typed(MENU))  # commands and menu buttons only: steps pass by fast
    router.message.register(start, CommandStart())
    router.message.register(show_help, Command("help"))
    router.message.register(show_help, MenuButton(MENU_HELP))
    router.message.register(cancel, Command("cancel"))
    failed = ExceptionTypeFilter(Exception)
    router.errors.register(error_in_message, failed, Is(F.update.message.as_("message")))
    router.errors.register(error_in_callback, failed, Is(F.update.callback_query.as_("callback")))
    router.errors.register(error_elsewhere)
    return router


def make_fallback_router() -> Router:
    """Last of all: what no other router took."""
    router = Router(name="fallback")
    router.message.register(unknown_message)
    router.callback_query.register(stale_button)
    return router


async def start(message: Message, state: FSMContext, staff: StaffUser) -> None:
    await state.clear()
    name = message.from_user.first_name if message.from_user else ""
    await message.answer(
        _("Hello, {name}! This bot tops up clients' Allpay wallets with cash.").format(
            name=escape(name)
        )
        + "\n\n"
        + help_text(staff.role),
        reply_markup=main_menu(),
    )


async def show_help(message: Message, staff: StaffUser) -> None:
    await message.answer(help_text(staff.role), reply_markup=main_menu())


async def cancel(message: Message, state: FSMContext, staff: StaffUser, people: People) -> None:
    await state.clear()
    # All of it: the open card and any request still waiting for a supervisor. What already
    # went to Allpay cannot be called back: the cashier is told so, never "nothing was sent".
    sent = await people.end_work(staff.user_id)
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


async def unknown_message(message: Message) -> None:
    await message.answer(
        _("I did not understand that. Choose an action in the menu or send /help."),
        reply_markup=main_menu(),
    )


async def stale_button(callback: CallbackQuery) -> None:
    await callback.answer(_("This button is no longer active."), show_alert=False)


async def error_in_message(event: ErrorEvent, message: Message) -> None:
    log.error(
        "update %d failed: %r", event.update.update_id, event.exception, exc_info=event.exception
    )
    await message.answer(_("Something went wrong on our side. Please try again."))


async def error_in_callback(event: ErrorEvent, callback: CallbackQuery) -> None:
    log.error(
        "update %d failed: %r", event.update.update_id, event.exception, exc_info=event.exception
    )
    await callback.answer(_("Something went wrong on our side. Please try again."), show_alert=True)


async def error_elsewhere(event: ErrorEvent) -> None:
    log.error(
        "update %d failed: %r", event.update.update_id, event.exception, exc_info=event.exception
    )
