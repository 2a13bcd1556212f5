"""The parts an update's handling needs besides Telegram — the journal and, with several
instances, Redis (conversations, per-user ordering) — as the handlers' error side sees them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from bot.infra.outage import Part


@dataclass(frozen=True, slots=True)
class Parts:
    journal: Part
    redis: Part | None = None


def is_redis_outage(exc: BaseException) -> bool:
    """Redis refused, reset or did not answer (redis-py's connection and time-out errors),
    told apart without importing redis where it is not used."""
    for kind in type(exc).__mro__:
        if kind.__module__.startswith("redis") and kind.__name__ in (
            "ConnectionError",
            "TimeoutError",
            "BusyLoadingError",
        ):
            return True
    return False


class PartsMiddleware(BaseMiddleware):
    """An outer middleware on ``dispatcher.update``: an update handled to its end used Redis
    (every update reads its conversation there), so Redis answers again."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        result = await handler(event, data)
        if self.parts.redis is not None and self.parts.redis.down_since is not None:
            self.parts.redis.answered()
        return result
