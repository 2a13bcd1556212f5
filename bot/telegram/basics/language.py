"""/lang: choose Русский, Қазақша or English; the choice is stored."""

from __future__ import annotations

import contextlib

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config.languages import normalize_language
from bot.domain.model import StaffUser
from bot.telegram.basics.callbacks import LangCb
from bot.telegram.basics.keyboards import LANGUAGE_NAMES, language_keyboard
from bot.telegram.shared.answers import PressAnswer
from bot.telegram.shared.filters import MenuButton
from bot.telegram.shared.menu import MENU_LANGUAGE, main_menu
from bot.usecases.people import People


def make_router() -> Router:
    router = Router(name="language")
    router.message.register(ask_language, Command("lang"))
    router.message.register(ask_language, MenuButton(MENU_LANGUAGE))
    router.callback_query.register(set_language, LangCb.filter())
    return router


async def ask_language(message: Message) -> None:
    await message.answer(_("Choose the language:"), reply_markup=language_keyboard())


async def set_language(
    callback: CallbackQuery,
    callback_data: LangCb,
    staff: StaffUser,
    people: People,
    i18n: I18n,
    callback_answer: PressAnswer,
) -> None:
    code = normalize_language(callback_data.code)
    if code is None:
        callback_answer.text = _("This button is no longer active.")
        return
    await people.set_language(staff.user_id, code)
    with i18n.use_locale(code):
        if not isinstance(callback.message, Message):
            return
        # The answer carries the menu in the new language (only a new message can); the
        # question it answers goes, rather than lingering above it.
        await callback.message.answer(
            _("Language: {language}").format(language=LANGUAGE_NAMES[code]),
            reply_markup=main_menu(),
        )
    with contextlib.suppress(TelegramBadRequest):
        await callback.message.delete()
