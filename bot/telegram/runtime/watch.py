"""The Bot API's watch: a request middleware under every call the bot makes (handlers, the
outbox, start-up) that counts Telegram's 429s and keeps :class:`~bot.metrics.TelegramReach`
current for /healthz."""

from __future__ import annotations

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
from bot.metrics import Metrics, TelegramReach
from bot.redaction import redact_error


class TelegramWatch(BaseRequestMiddleware):
    """Sees every Bot API call, whoever made it (handlers, the outbox, start-up): counts 429s
    and keeps :class:`TelegramReach` current."""

    def __init__(self, metrics: Metrics, reach: TelegramReach) -> None:
        self.metrics = metrics
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
            self.metrics.telegram_retry_after.inc()
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
