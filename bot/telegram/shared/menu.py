"""The main menu: its labels (matched in every language, see ``filters.MenuButton``) and
its keyboard."""

from __future__ import annotations

import functools

from aiogram.types import KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _

from bot.telegram.shared.texts import N_

# Main-menu labels; handlers match them in every language (see filters.MenuButton).
MENU_TOP_UP = N_("💵 Top up")
MENU_HISTORY = N_("📜 History")
MENU_TODAY = N_("📊 Today")
MENU_LANGUAGE = N_("🌐 Language")
MENU_HELP = N_("❓ Help")
MENU = (MENU_TOP_UP, MENU_HISTORY, MENU_TODAY, MENU_LANGUAGE, MENU_HELP)


def main_menu() -> ReplyKeyboardMarkup:
    return _main_menu(get_i18n().current_locale)


@functools.lru_cache(maxsize=8)
def _main_menu(locale: str) -> ReplyKeyboardMarkup:
    """Built once per language (``locale`` is the one in use, which ``_`` reads)."""
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=_(MENU_TOP_UP))],
            [KeyboardButton(text=_(MENU_HISTORY)), KeyboardButton(text=_(MENU_TODAY))],
            [KeyboardButton(text=_(MENU_LANGUAGE)), KeyboardButton(text=_(MENU_HELP))],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )
