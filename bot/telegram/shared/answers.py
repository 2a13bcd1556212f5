"""A press of a button is answered once; a second answer is not an error.

An update handled again (after a crash, :mod:`bot.telegram.runtime.intake`) answers its button press
a second time, and Telegram refuses that ("query is too old", "query ID is invalid"). Without
this, the handler would stop at its first line and the person get nothing. Every
``answerCallbackQuery`` goes through here: a refusal for being late or repeated counts as
answered — except where the caller must know (:func:`must_show`), as the errors handler
does, to tell the person in the chat instead.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import AnswerCallbackQuery, Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from collections.abc import Iterator

    from aiogram import Bot

_strict: ContextVar[bool] = ContextVar("callback_answer_must_show", default=False)
LATE = ("query is too old", "query id is invalid", "query_id_invalid")


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
