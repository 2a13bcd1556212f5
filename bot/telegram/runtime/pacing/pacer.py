"""The pacing request middleware (:class:`Pacer`): every Bot API call waits its turn by lane,
429s are waited out and retried, and pending edits of one message coalesce."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

from bot.infra.logs import log_context
from bot.telegram.runtime.pacing.budget import Budget, BudgetStore, LocalBudgetStore

log = logging.getLogger(__name__)


#: Methods Telegram counts against its flood limits: sends and edits alike.
COUNTED = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
    }
)
#: Paced like them though Telegram counts no message: a chat's menu button, set for everyone
#: on the roster at start (a burst of them must draw no 429) and at each roster change.
ALSO_PACED = frozenset({"setChatMenuButton"})
COALESCED = frozenset({"editMessageText"})


class Lane(IntEnum):
    """Who waits first when the budget is short (lower goes first)."""

    STATUS = 0  # a cashier's own payment status, an approval's answer to its cashier
    REPLY = 1  # a handler answering the person in front of it
    APPROVAL = 2  # approval cards and their decisions
    ALERT = 3  # stuck-payment alerts
    FEED = 4  # the supervisors' feed of final payments, digests

    @property
    def label(self) -> str:
        return self.name.lower()


#: The lane of calls made in this context (the outbox sets it per item; handlers: REPLY).
current_lane: ContextVar[Lane] = ContextVar("pacing_lane", default=Lane.REPLY)


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass(slots=True)
class _PendingEdit:
    method: TelegramMethod[Any]
    future: asyncio.Future[Any] = field(default_factory=_future)


class PacingObserver(Protocol):
    def waited(self, lane: Lane, seconds: float) -> None: ...

    def refused(self, lane: Lane) -> None: ...


class Pacer(BaseRequestMiddleware):
    """The request middleware: every Bot API call of the bot goes through it."""

    BOT_KEY = "bot"

    def __init__(
        self,
        budget: Budget | None = None,
        store: BudgetStore | None = None,
        *,
        observer: PacingObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget = budget or Budget()
        self.store: BudgetStore = store or LocalBudgetStore(clock)
        self.observer = observer
        self._clock = clock
        self._edits: dict[tuple[str, int], _PendingEdit] = {}
        self._refusals: deque[tuple[float, str]] = deque()
        self._storm_until = 0.0
        self._restore: asyncio.TimerHandle | None = None
        #: 429s Telegram sent, and calls retried after waiting them out.
        self.refused = 0
        self.retried = 0

    def _limits(self, chat: str) -> tuple[float, float]:
        b = self.budget
        if chat.startswith("-") or not chat.lstrip("-").isdigit():
            return b.group_rate, b.group_burst
        return b.private_rate, b.private_burst

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        chat_id = getattr(method, "chat_id", None)
        if (name not in COUNTED and name not in ALSO_PACED) or chat_id is None:
            return await make_request(bot, method)
        chat = str(chat_id)
        message_id = getattr(method, "message_id", None)
        if name in COALESCED and isinstance(message_id, int):
            key = (chat, message_id)
            pending = self._edits.get(key)
            if pending is not None:
                pending.method = method  # the newer state replaces the one still waiting
                result: Response[TelegramType] = await asyncio.shield(pending.future)
                return result
            pending = self._edits[key] = _PendingEdit(method)
            try:
                outcome = await self._paced(make_request, bot, chat, pending)
            except asyncio.CancelledError:
                pending.future.cancel()
                raise
            except Exception as exc:
                if not pending.future.done():
                    pending.future.set_exception(exc)
                    pending.future.exception()  # retrieved: no "never retrieved" warning
                raise
            if not pending.future.done():
                pending.future.set_result(outcome)
            return outcome
        return await self._paced(make_request, bot, chat, _Direct(method))

    async def _paced(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        chat: str,
        call: _PendingEdit | _Direct,
    ) -> Response[TelegramType]:
        lane = current_lane.get()
        bound = self.budget.bounds[min(int(lane), len(self.budget.bounds) - 1)]
        started = self._clock()
        rate, burst = self._limits(chat)
        edit_key = (chat, getattr(call.method, "message_id", 0))
        while True:
            await self.store.acquire(f"chat:{chat}", rate, burst, int(lane))
            await self.store.acquire(
                self.BOT_KEY, self._bot_rate(), self.budget.bot_burst, int(lane)
            )
            # A window may have opened while this call waited for the bot's token (told to
            # this instance or another): the chat is left alone until it ends.
            closed = await self.store.window(f"chat:{chat}")
            if closed > 0:
                await asyncio.sleep(closed)
                continue
            if isinstance(call, _PendingEdit) and self._edits.get(edit_key) is call:
                del self._edits[edit_key]  # from here on a newer edit waits on its own
            if self.observer is not None:
                self.observer.waited(lane, self._clock() - started)
            try:
                return await make_request(bot, call.method)
            except TelegramRetryAfter as exc:
                self.refused += 1
                if self.observer is not None:
                    self.observer.refused(lane)
                wait = float(exc.retry_after) + self.budget.margin
                await self.store.block(f"chat:{chat}", wait)
                self._storm(chat)
                if self._clock() + wait - started > bound:
                    context = log_context.get() or {}
                    log.error(
                        "%s to chat %s not delivered: Telegram asks to wait %d s, past the "
                        "%.0f s this call may wait (update %s)",
                        call.method.__api_method__,
                        chat,
                        exc.retry_after,
                        bound,
                        context.get("update_id", "-"),
                    )
                    raise
                self.retried += 1
                log.info(
                    "chat %s: Telegram asks to wait %d s; %s waits and is retried",
                    chat,
                    exc.retry_after,
                    call.method.__api_method__,
                )
                if isinstance(call, _PendingEdit):
                    self._edits.setdefault(edit_key, call)  # waits again: newer edits join

    def _bot_rate(self) -> float:
        if self._clock() < self._storm_until:
            return self.budget.bot_rate * self.budget.storm_factor
        return self.budget.bot_rate

    def _storm(self, chat: str) -> None:
        """Several chats refused close together: Telegram's bot-wide limit is near."""
        now = self._clock()
        self._refusals.append((now, chat))
        while self._refusals and now - self._refusals[0][0] > self.budget.storm_window:
            self._refusals.popleft()
        if len({c for _t, c in self._refusals}) < self.budget.storm_chats:
            return
        self._refusals.clear()
        self._storm_until = now + self.budget.storm_recovery
        lowered = self.budget.bot_rate * self.budget.storm_factor
        log.warning(
            "429s from several chats at once: bot-wide pace lowered to %.0f/s for %.0f s",
            lowered,
            self.budget.storm_recovery,
        )
        self.store.set_rate(self.BOT_KEY, lowered)
        if self._restore is not None:
            self._restore.cancel()
        self._restore = asyncio.get_running_loop().call_later(
            self.budget.storm_recovery,
            lambda: self.store.set_rate(self.BOT_KEY, self.budget.bot_rate),
        )

    def queue_depth(self) -> dict[Lane, int]:
        waiting = self.store.waiting()
        return {lane: waiting.get(int(lane), 0) for lane in Lane}


@dataclass(frozen=True, slots=True)
class _Direct:
    method: TelegramMethod[Any]
