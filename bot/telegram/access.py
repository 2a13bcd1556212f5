"""Who may use the bot: roster roles from the database. Strangers never reach Allpay."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, User
from aiogram.utils.i18n import gettext as _

from bot.payments.journal import Journal

log = logging.getLogger(__name__)


class AccessMiddleware(BaseMiddleware):
    """Puts ``staff`` (the roster entry) into handler data; refuses everyone else politely."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            return None
        staff = await self.journal.get_user(user.id)
        if staff is None or staff.blocked:
            log.info("refused user %d (%s)", user.id, "blocked" if staff else "not on the roster")
            text = (
                _("Your access to this bot is blocked. Please contact an administrator.")
                if staff
                else _(
                    "Sorry, this bot is only for the agent's cashiers.\n"
                    "Pass your Telegram id to an administrator to get access: {user_id}"
                ).format(user_id=user.id)
            )
            if isinstance(event, Message):
                await event.answer(text)
            elif isinstance(event, CallbackQuery):
                await event.answer(text[:200], show_alert=True)
            return None
        if staff.name is None and user.full_name:
            await self.journal.set_user_name(user.id, user.full_name)
        data["staff"] = staff
        log.debug("%s from %s %d", type(event).__name__, staff.role.value, user.id)
        return await handler(event, data)
