"""Every button press a handler takes is answered once (bot/telegram/shared/answers.py): as
the handler returns, with what it set; before it runs where the handler is flagged ``pre``
(a failing early answer never stops it); never by a handler that failed (the errors
handlers answer that press with what went wrong)."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import CallbackQuery, TelegramObject, User

from bot.telegram.shared.answers import AnswerPresses, PressAnswer

said: list[str] = []


class Query(CallbackQuery):
    """A press whose answers are written down (or, ``fail``, refused on the way)."""

    fail: bool = False

    async def answer(self, text: str | None = None, **kwargs: Any) -> bool:  # type: ignore[override]
        said.append(f"answer {text} alert={kwargs.get('show_alert')}")
        if self.fail:
            raise TelegramNetworkError(
                method=AnswerCallbackQuery(callback_query_id="1"), message=""
            )
        return True


def _query(*, fail: bool = False) -> Query:
    user = User(id=1, is_bot=False, first_name="A")
    return Query(id="1", from_user=user, chat_instance="c", data="d", fail=fail)


async def _press(query: Query, handler: Any, flags: dict[str, Any] | None = None) -> None:
    said.clear()

    async def call(event: TelegramObject, data: dict[str, Any]) -> Any:
        return await handler(data["callback_answer"])

    data: dict[str, Any] = {"handler": HandlerObject(callback=handler, flags=flags or {})}
    await AnswerPresses()(call, query, data)


async def test_the_press_is_answered_as_the_handler_returns_with_what_it_set() -> None:
    async def handler(answer: PressAnswer) -> None:
        said.append("handled")
        answer.alert("No longer active.")

    await _press(_query(), handler)
    assert said == ["handled", "answer No longer active. alert=True"]


async def test_a_pre_press_is_answered_first_and_a_failed_answer_stops_nothing() -> None:
    async def handler(answer: PressAnswer) -> None:
        said.append("handled")
        await answer.now()  # answered already: nothing more

    await _press(_query(fail=True), handler, {"callback_answer": {"pre": True}})
    assert said == ["answer None alert=None", "handled"]


async def test_an_answer_given_early_is_the_only_one() -> None:
    async def handler(answer: PressAnswer) -> None:
        await answer.now()
        said.append("slow work")

    await _press(_query(), handler)
    assert said == ["answer None alert=None", "slow work"]


async def test_a_failing_handler_leaves_its_press_to_the_errors_handlers() -> None:
    async def handler(answer: PressAnswer) -> None:
        answer.text = "done"
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await _press(_query(), handler)
    assert said == []


async def test_an_answer_lost_after_the_handler_is_no_error_of_the_handler() -> None:
    """Its work is done (a card cancelled, a page shown): a refused answer must not make
    the errors handlers say something went wrong."""

    async def handler(answer: PressAnswer) -> None:
        said.append("card cancelled")
        answer.text = "Cancelled."

    await _press(_query(fail=True), handler)
    assert said == ["card cancelled", "answer Cancelled. alert=None"]
