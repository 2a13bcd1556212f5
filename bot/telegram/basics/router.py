"""/start, /help, /cancel, the fallback and the error handlers."""

from __future__ import annotations

import contextlib
import logging
from html import escape

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart, ExceptionTypeFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ErrorEvent, Message
from aiogram.utils.i18n import gettext as _

from bot.domain.model import StaffUser
from bot.infra.logs import describe_error
from bot.infra.outage import PartDown
from bot.telegram.basics import texts
from bot.telegram.basics.help import command_help, help_text
from bot.telegram.cashin.states import CashInData
from bot.telegram.cashin.texts import top_up_cancelled
from bot.telegram.runtime.parts import Parts, is_redis_outage
from bot.telegram.shared.answers import PressAnswer, must_show, too_late
from bot.telegram.shared.filters import Is, MenuButton, Typed
from bot.telegram.shared.menu import MENU, MENU_HELP, main_menu
from bot.telegram.shared.texts import temporarily_unavailable
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


async def start(message: Message, state: FSMContext, staff: StaffUser, people: People) -> None:
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
    if message.chat.type == "private" and staff.has_desk:
        await people.menu_button_on_start(staff.user_id)  # one Telegram could not set yet


async def show_help(
    message: Message, staff: StaffUser, command: CommandObject | None = None
) -> None:
    """/help: the steps and the commands by purpose; ``/help find``: that one command."""
    asked = (command.args or "").strip() if command is not None else ""
    text = command_help(staff.role, asked) if asked else help_text(staff.role)
    await message.answer(text, reply_markup=main_menu())


async def cancel(message: Message, state: FSMContext, staff: StaffUser, people: People) -> None:
    # All of it: the open card, a request still waiting for a supervisor, a handover still
    # waiting. What already went to Allpay cannot be called back: the cashier is told which
    # top-ups still wait for its final word — never "nothing was sent" while money moved.
    prompt = (await CashInData.load(state)).prompt
    await state.clear()
    ended = await people.end_work(staff.user_id)
    await message.answer(texts.work_ended(ended), reply_markup=main_menu())
    # The cancelled cards and the step's prompt keep no buttons that do nothing now.
    for chat_id, card_id in ended.cards:
        with contextlib.suppress(TelegramBadRequest):
            await message.bot.edit_message_text(  # type: ignore[union-attr]
                top_up_cancelled(), chat_id=chat_id, message_id=card_id, reply_markup=None
            )
    if isinstance(prompt, int) and prompt not in {card for _chat, card in ended.cards}:
        with contextlib.suppress(TelegramBadRequest):
            await message.bot.edit_message_reply_markup(  # type: ignore[union-attr]
                chat_id=message.chat.id, message_id=prompt, reply_markup=None
            )


async def unknown_message(message: Message) -> None:
    await message.answer(
        _("I did not understand that. Choose an action in the menu or send /help."),
        reply_markup=main_menu(),
    )


async def stale_button(callback: CallbackQuery, callback_answer: PressAnswer) -> None:
    callback_answer.text = _("This button is no longer active.")
    callback_answer.show_alert = False


def _outage(event: ErrorEvent, parts: Parts | None) -> bool:
    """Whether the update failed because a part of the bot is away (the journal, Redis):
    said once by the part, not once per update."""
    exc = event.exception
    if isinstance(exc, PartDown):
        return True
    if parts is not None and parts.redis is not None and is_redis_outage(exc):
        parts.redis.failed(type(exc).__name__)
        return True
    return False


def _log_failure(event: ErrorEvent) -> None:
    # Never the exception's repr or text: aiogram's carry whole Bot API answers (names,
    # logins); the traceback goes through the log's redaction.
    log.error(
        "update %d failed: %s",
        event.update.update_id,
        describe_error(event.exception),
        exc_info=event.exception,
    )


async def error_in_message(event: ErrorEvent, message: Message, parts: Parts | None = None) -> None:
    if _outage(event, parts):
        await message.answer(temporarily_unavailable())
        return
    _log_failure(event)
    await message.answer(_("Something went wrong on our side. Please try again."))


async def error_in_callback(
    event: ErrorEvent, callback: CallbackQuery, parts: Parts | None = None
) -> None:
    if _outage(event, parts):
        text = temporarily_unavailable()
    else:
        _log_failure(event)
        text = _("Something went wrong on our side. Please try again.")
    try:
        with must_show():  # the handler may have answered the press already
            await callback.answer(text, show_alert=True)
    except TelegramBadRequest as exc:
        if not too_late(exc) or not isinstance(callback.message, Message):
            raise
        await callback.message.answer(text)  # told in the chat instead


async def error_elsewhere(event: ErrorEvent, parts: Parts | None = None) -> None:
    if _outage(event, parts):
        return
    _log_failure(event)
