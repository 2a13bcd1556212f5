"""Every log line written while an update is handled carries its update id and the user's id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User

from bot.infra.logs import bind, log_context


class LogContextMiddleware(BaseMiddleware):
    """An outer middleware on ``dispatcher.update``."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        values: dict[str, object] = {}
        if isinstance(event, Update):
            values["update_id"] = event.update_id
        user: User | None = data.get("event_from_user")
        if user is not None:
            values["cashier_id"] = user.id
        token = bind(**values)
        try:
            return await handler(event, data)
        finally:
            log_context.reset(token)
