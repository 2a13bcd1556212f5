"""The pacing layer on its own: budgets, priorities, 429 windows, coalesced edits."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    SendMessage,
    SetChatMenuButton,
    TelegramMethod,
)
from aiogram.types import MenuButtonWebApp, WebAppInfo
from redis.asyncio import Redis

from bot.telegram.runtime.pacing import Budget, Lane, Pacer, RedisBudgetStore, current_lane
from tests.fixtures import REDIS_URL

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


async def test_menu_buttons_are_paced_like_messages_behind_a_cashiers_status() -> None:
    """setChatMenuButton is no message to Telegram, but the roster's buttons set at start are
    a burst: they spend the bot's budget, in the feed's lane, after a cashier's status."""
    pacer, api = _pacer(bot_rate=20.0, bot_burst=1.0), FakeApi()
    button = MenuButtonWebApp(text="Desk", web_app=WebAppInfo(url="https://x.example/desk/"))
    await _call(pacer, api, SendMessage(chat_id=1, text="x"), Lane.REPLY)  # the only token
    menus = [
        asyncio.create_task(
            _call(pacer, api, SetChatMenuButton(chat_id=chat, menu_button=button), Lane.FEED)
        )
        for chat in (300, 301, 302)
    ]
    await asyncio.sleep(0)
    status = asyncio.create_task(_call(pacer, api, SendMessage(chat_id=2, text="✅"), Lane.STATUS))
    await asyncio.gather(*menus, status)
    names = [method.__api_method__ for _t, method in api.calls]
    assert names == ["sendMessage", "sendMessage", *["setChatMenuButton"] * 3]
    spaced = [t for t, _m in api.calls]
    assert spaced[-1] - spaced[0] >= 4 * 0.05 * 0.9  # 20 a second, one at a time


# ------------------------------------------------ shared by instances (REDIS_URL)


def _shared(prefix: str, url: str = REDIS_URL, **budget: Any) -> tuple[Pacer, Redis]:
    """One instance's pacer over the budget every instance with ``prefix`` shares."""
    redis = Redis.from_url(url)
    return Pacer(Budget(**{"margin": 0.0, **budget}), RedisBudgetStore(redis, prefix)), redis


async def test_instances_share_one_budget_per_chat(redis_prefix: str) -> None:
    """Three instances writing to one chat together keep to the chat's one rate: Telegram
    counts the bot, not the process."""
    rate = 20.0
    pairs = [_shared(redis_prefix, private_rate=rate, private_burst=1.0) for _ in range(3)]
    api = FakeApi()
    try:
        await asyncio.gather(
            *(
                _call(pacer, api, SendMessage(chat_id=9, text=f"{n}.{i}"), Lane.REPLY)
                for n, (pacer, _redis) in enumerate(pairs)
                for i in range(4)
            )
        )
    finally:
        for _pacer, redis in pairs:
            await redis.aclose()
    moments = sorted(at for at, _m in api.calls)
    assert len(moments) == 12
    # Each token comes 1/rate after the one before, whichever instance takes it: the twelve
    # take 11/rate at least. Separately paced they would come three at a time, in 3/rate.
    # (Single gaps jitter with the machine — a call delayed past its grant narrows the next
    # one — so the whole span is what is measured; it failed often on single gaps.)
    span = moments[-1] - moments[0]
    assert span >= 0.8 * 11 / rate, (span, moments)


async def test_a_window_told_to_one_instance_holds_for_all(redis_prefix: str) -> None:
    (first, first_redis), (second, second_redis) = (_shared(redis_prefix) for _ in range(2))
    api = FakeApi()
    api.refuse["5"] = 1  # Telegram: chat 5, wait 1 s
    try:
        refused = asyncio.create_task(
            _call(first, api, SendMessage(chat_id=5, text="a"), Lane.REPLY)
        )
        window = f"{redis_prefix}:pace:chat:5:window"
        for _ in range(500):  # until the first has been told and has shared the window
            if await first_redis.exists(window):
                break
            await asyncio.sleep(0.01)
        told = time.monotonic()
        await _call(second, api, SendMessage(chat_id=5, text="b"), Lane.REPLY)
        await refused
    finally:
        await first_redis.aclose()
        await second_redis.aclose()
    [_refused, *later] = api.calls
    assert sorted(str(getattr(m, "text", "")) for _t, m in later) == ["a", "b"]
    assert all(at >= told + 0.9 for at, _m in later)  # nobody called inside the window


async def test_without_redis_an_instance_paces_itself_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pacer, redis = _shared("cashin-t", url="redis://127.0.0.1:1/0", private_rate=50.0)
    api = FakeApi()
    try:
        with caplog.at_level(logging.WARNING):
            for n in range(3):
                await _call(pacer, api, SendMessage(chat_id=3, text=str(n)), Lane.REPLY)
    finally:
        await redis.aclose()
    assert api.texts() == ["0", "1", "2"]  # delivered all the same
    assert sum("Redis unreachable" in r.getMessage() for r in caplog.records) == 1


async def test_a_redis_that_stops_answering_does_not_stop_the_bot() -> None:
    """Redis accepts the connection and says nothing: each call waits at most REDIS_WAIT,
    then this instance paces itself, and it does not ask Redis again for a while."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)  # reads everything, answers nothing
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pacer, redis = _shared("cashin-t", url=f"redis://127.0.0.1:{port}/0", private_rate=50.0)
    assert isinstance(pacer.store, RedisBudgetStore)
    store = pacer.store
    store.REDIS_WAIT = 0.2
    asked: list[object] = []
    take = store._take

    async def counted(**arguments: Any) -> Any:
        asked.append(arguments)
        return await take(**arguments)

    store._take = counted  # type: ignore[assignment]
    api = FakeApi()
    try:
        for n in range(5):
            await _call(pacer, api, SendMessage(chat_id=3, text=str(n)), Lane.REPLY)
    finally:
        await redis.aclose()
        server.close()
    assert api.texts() == ["0", "1", "2", "3", "4"]
    assert len(asked) == 1  # only the first call waited for Redis; the rest paced here


async def test_a_window_opened_while_a_call_waits_for_the_bots_token_holds_it_back(
    redis_prefix: str,
) -> None:
    """Instance B has its chat token and waits for the bot's; meanwhile Telegram tells
    instance A to leave that chat alone: B's call waits the window out too."""
    (first, first_redis), (second, second_redis) = (
        _shared(redis_prefix, bot_rate=2.0, bot_burst=1.0) for _ in range(2)
    )
    api = FakeApi()
    try:
        await _call(second, api, SendMessage(chat_id=7, text="spends the bot's token"), Lane.REPLY)
        waiting = asyncio.create_task(
            _call(second, api, SendMessage(chat_id=42, text="b"), Lane.REPLY)
        )
        for _ in range(500):  # until B holds chat 42's token (and waits for the bot's)
            if await first_redis.exists(f"{redis_prefix}:pace:chat:42"):
                break
            await asyncio.sleep(0.01)
        await first.store.block("chat:42", 1.0)  # A was told: 429, retry after 1 s
        told = time.monotonic()
        await waiting
    finally:
        await first_redis.aclose()
        await second_redis.aclose()
    [at] = [at for at, m in api.calls if getattr(m, "chat_id", None) == 42]
    assert at >= told + 0.95, at - told  # not inside the window
