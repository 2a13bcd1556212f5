"""Gives every message and button handler its :class:`~bot.telegram.shared.view.View`: the
facts of the settings its words need, in the reader's language of this update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n

from bot.config.settings import Settings
from bot.telegram.shared.view import View


class ViewMiddleware(BaseMiddleware):
    """An outer middleware on messages and button presses, after the locale's
    (:meth:`setup` registers it so)."""

    def __init__(self, settings: Settings) -> None:
        self.view = View(
            locale=settings.default_language,
            tz=settings.tz,
            sandbox=settings.uses_sandbox,
            amount_min=settings.amount_min,
            amount_max=settings.amount_max,
            fee=settings.cashin_fee,
            approval_threshold=settings.approval_threshold,
            webapp_url=settings.webapp_url,
        )

    def setup(self, router: Router) -> None:
        """After :class:`~bot.telegram.runtime.i18n.LocaleMiddleware` is set up: the
        locale is the update's by then."""
        router.message.outer_middleware(self)
        router.callback_query.outer_middleware(self)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        i18n: I18n | None = data.get("i18n")
        locale = i18n.current_locale if i18n is not None else self.view.locale
        data["view"] = (
            self.view if locale == self.view.locale else replace(self.view, locale=locale)
        )
        return await handler(event, data)
