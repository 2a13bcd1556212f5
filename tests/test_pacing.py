"""The pacing layer on its own: budgets, priorities, 429 windows, coalesced edits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, TelegramMethod

from bot.telegram.pacing import Budget, Lane, Pacer, current_lane

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"


class FakeApi:
    """Stands for the network: records each call; chats listed in ``refuse`` get one 429."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, TelegramMethod[Any]]] = []
        self.refuse: dict[str, int] = {}

    async def __call__(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        self.calls.append((time.monotonic(), method))
        chat = str(getattr(method, "chat_id", ""))
        if self.refuse.get(chat):
            self.refuse[chat] -= 1
            raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=1)
        return getattr(method, "text", True)

    def texts(self, chat: int | None = None) -> list[str]:
        return [
            str(getattr(m, "text", ""))
            for _t, m in self.calls
            if chat is None or getattr(m, "chat_id", None) == chat
        ]


def _pacer(**budget: Any) -> Pacer:
    return Pacer(Budget(**{"margin": 0.0, **budget}))


BOT = Bot(TOKEN)


async def _call(pacer: Pacer, api: FakeApi, method: TelegramMethod[Any], lane: Lane) -> Any:
    current_lane.set(lane)  # this task's context only
    return await pacer(api, BOT, method)


async def test_a_newer_edit_of_a_message_replaces_the_one_still_waiting() -> None:
    pacer, api = _pacer(private_rate=20.0, private_burst=1.0), FakeApi()
    edits = [EditMessageText(chat_id=7, message_id=3, text=t) for t in ("⏳ 1", "⏳ 2", "✅ 3")]
    results = await asyncio.gather(*(_call(pacer, api, e, Lane.STATUS) for e in edits))
    assert api.texts() == ["⏳ 1", "✅ 3"]  # the second never went out
    assert results == ["⏳ 1", "✅ 3", "✅ 3"]  # its caller got the newer state


async def test_the_most_urgent_lane_is_served_first() -> None:
    pacer, api = _pacer(bot_rate=20.0, bot_burst=1.0), FakeApi()
    first = SendMessage(chat_id=1, text="first")
    feed = [SendMessage(chat_id=-100, text=f"feed {i}") for i in range(3)]
    status = SendMessage(chat_id=2, text="✅ status")
    await _call(pacer, api, first, Lane.REPLY)  # uses the one token
    tasks = [asyncio.create_task(_call(pacer, api, m, Lane.FEED)) for m in feed]
    await asyncio.sleep(0)  # the feed is queued first...
    tasks.append(asyncio.create_task(_call(pacer, api, status, Lane.STATUS)))
    await asyncio.gather(*tasks)
    assert api.texts()[1] == "✅ status"  # ...and the status still goes before it


async def test_a_refused_chat_waits_out_its_window_and_others_do_not() -> None:
    pacer, api = _pacer(), FakeApi()
    api.refuse["5"] = 1
    refused = asyncio.create_task(_call(pacer, api, SendMessage(chat_id=5, text="a"), Lane.REPLY))
    for _ in range(10):  # a few loop turns: chat 5 is refused...
        await asyncio.sleep(0)
    assert pacer.refused == 1
    assert await _call(pacer, api, SendMessage(chat_id=6, text="b"), Lane.REPLY) == "b"
    assert await refused == "a"
    assert api.texts() == ["a", "b", "a"]  # ...chat 6 went meanwhile, then chat 5 again
    times = [t for t, m in api.calls if getattr(m, "chat_id", None) == 5]
    assert len(times) == 2 and times[1] - times[0] >= 1.0  # nothing inside the window
    assert pacer.refused == 1 and pacer.retried == 1


async def test_429s_from_several_chats_lower_the_bot_wide_pace() -> None:
    pacer, api = _pacer(storm_chats=3, storm_window=5.0), FakeApi()
    for chat in ("1", "2", "3"):
        api.refuse[chat] = 1
    await asyncio.gather(
        *(_call(pacer, api, SendMessage(chat_id=int(c), text=c), Lane.REPLY) for c in "123")
    )
    assert pacer._bot_rate() == Budget().bot_rate * Budget().storm_factor


async def test_callback_answers_are_neither_counted_nor_queued() -> None:
    pacer, api = _pacer(bot_rate=0.001, bot_burst=1.0), FakeApi()
    await _call(pacer, api, SendMessage(chat_id=1, text="x"), Lane.REPLY)  # the only token
    async with asyncio.timeout(10):  # a counted call would now wait some 1000 s
        for n in range(20):
            await _call(pacer, api, AnswerCallbackQuery(callback_query_id=str(n)), Lane.REPLY)
    assert len(api.calls) == 21
