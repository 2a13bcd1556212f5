"""A press of a button is answered once (:class:`AnswerPresses`); a second answer is not an
error (:class:`LateAnswers`).

An update handled again (after a crash, :mod:`bot.telegram.runtime.intake`) answers its button
press a second time, and Telegram refuses that ("query is too old", "query ID is invalid").
Without this, the handler would stop at its first line and the person get nothing. Every
``answerCallbackQuery`` goes through here: a refusal for being late or repeated counts as
answered — except where the caller must know (:func:`must_show`), as the errors handler
does, to tell the person in the chat instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.dispatcher.flags import get_flag
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import AnswerCallbackQuery, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, TelegramObject
from aiogram.utils.callback_answer import CallbackAnswer, CallbackAnswerMiddleware

from bot.infra.logs import describe_error

if TYPE_CHECKING:
    from collections.abc import Iterator

    from aiogram import Bot

_strict: ContextVar[bool] = ContextVar("callback_answer_must_show", default=False)
LATE = ("query is too old", "query id is invalid", "query_id_invalid")

log = logging.getLogger(__name__)


def too_late(exc: TelegramBadRequest) -> bool:
    return any(words in exc.message.lower() for words in LATE)


@contextmanager
def must_show() -> Iterator[None]:
    """Answers made inside raise when Telegram refuses them."""
    token = _strict.set(True)
    try:
        yield
    finally:
        _strict.reset(token)


class LateAnswers(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if _strict.get() or not isinstance(method, AnswerCallbackQuery):
            return await make_request(bot, method)
        request: TelegramMethod[TelegramType] = method  # type: ignore[assignment]
        try:
            return await make_request(bot, request)
        except TelegramBadRequest as exc:
            if not too_late(exc):
                raise
            answered: Any = Response[bool](ok=True, result=True)
            return cast(Response[TelegramType], answered)


class PressAnswer(CallbackAnswer):
    """What a button press is answered with. A handler sets ``text`` (and ``show_alert``, or
    :meth:`alert`); :class:`AnswerPresses` answers as the handler returns — or :meth:`now`
    answers at once, before slow work (Allpay, a PDF), so Telegram's spinner stops."""

    def __init__(self, query: CallbackQuery, settings: CallbackAnswer) -> None:
        super().__init__(
            answered=False,
            disabled=settings.disabled,
            text=settings.text,
            show_alert=settings.show_alert,
            url=settings.url,
            cache_time=settings.cache_time,
        )
        self._query = query

    def alert(self, text: str) -> None:
        """Answer with ``text`` in an alert the person must close."""
        self.text = text
        self.show_alert = True

    async def now(self) -> None:
        """Answer with what is set so far, unless answered already."""
        if self.answered or self.disabled:
            return
        self._answered = True  # whatever Telegram says: never a second answer from here
        await self._query.answer(
            text=self.text, show_alert=self.show_alert, url=self.url, cache_time=self.cache_time
        )


class AnswerPresses(CallbackAnswerMiddleware):
    """aiogram's answer to every button press a handler takes, as the handler returns
    (``flags={"callback_answer": {"pre": True}}``: before it runs, best effort — the confirm
    tap's answer never stops the payment). Handlers receive ``callback_answer``
    (:class:`PressAnswer`). A handler that fails leaves its press unanswered: the errors
    handlers answer it with what went wrong."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        settings = self.construct_callback_answer(properties=get_flag(data, "callback_answer"))
        answer = data["callback_answer"] = PressAnswer(event, settings)
        if settings.answered:  # "pre"
            with suppress(TelegramAPIError):
                await answer.now()
        result = await handler(event, data)
        try:
            await answer.now()
        except TelegramAPIError as exc:
            # The handler's work is done (a card edited, a page shown): what it did stands;
            # a refused or lost answer only leaves Telegram's spinner to time out.
            log.warning("a press's answer after its handler failed: %s", describe_error(exc))
        return result
