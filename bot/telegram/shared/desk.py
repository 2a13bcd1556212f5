"""The "open the desk" button (a ``web_app`` button: Telegram opens the supervisor's desk,
signed for the person who pressed it) under /report, /pending and /cash — in private chats
only, and only when the desk is set up (``WEBAPP_URL``). In a group Telegram refuses
``web_app`` buttons, and the desk is one person's: nothing is added there."""

from __future__ import annotations

from aiogram.enums import ChatType
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message, WebAppInfo
from aiogram.utils.i18n import gettext as _

from bot.telegram.shared.view import View


def with_desk(
    markup: InlineKeyboardMarkup | None, message: Message, view: View
) -> InlineKeyboardMarkup | None:
    """``markup`` with the desk's button as its last row (a markup of its own if None)."""
    if view.webapp_url is None or message.chat.type != ChatType.PRIVATE:
        return markup
    button = InlineKeyboardButton(
        text=_("📊 Open the desk"), web_app=WebAppInfo(url=view.webapp_url)
    )
    rows = list(markup.inline_keyboard) if markup is not None else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [button]])
