"""The Bot API's watch: a request middleware under every call the bot makes (handlers, the
outbox, start-up) that counts Telegram's 429s and keeps :class:`TelegramReach` current for
/healthz."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.domain.clock import utcnow
from bot.infra.redaction import redact_error


@dataclass
class TelegramReach:
    """Whether Telegram answered lately: reported by /healthz, never a reason to restart."""

    reachable: bool | None = None  # None: not asked yet
    last_success: datetime | None = None
    last_error: str | None = None  # redacted, one line


class TelegramWatch(BaseRequestMiddleware):
    """Sees every Bot API call, whoever made it (handlers, the outbox, start-up): counts 429s
    and keeps :class:`TelegramReach` current. ``retried_after``: called at each 429 (the
    metrics' counter)."""

    def __init__(self, retried_after: Callable[[], object], reach: TelegramReach) -> None:
        self.retried_after = retried_after
        self.reach = reach

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            response = await make_request(bot, method)
        except TelegramRetryAfter:
            self.retried_after()
            self._answered()
            raise
        except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as exc:
            self.reach.reachable = False
            # A decode error carries Telegram's whole answer (people's messages): not kept.
            what = exc.message if isinstance(exc, ClientDecodeError) else exc
            self.reach.last_error = redact_error(
                f"{type(exc).__name__}: {what}" if isinstance(what, str) else what
            )
            raise
        except TelegramAPIError:
            self._answered()  # Telegram answered, if only to refuse
            raise
        self._answered()
        return response

    def _answered(self) -> None:
        self.reach.reachable = True
        self.reach.last_success = utcnow()
