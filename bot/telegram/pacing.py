"""One pacing layer for every Bot API call the bot makes: handlers, the outbox, start-up.

Telegram refuses with ``429 Too Many Requests`` and ``retry_after`` past about 30 messages a
second per bot, about one a second per private chat (short bursts pass) and 20 a minute per
group, edits included; a bot that calls a chat again inside the window it was told to wait
out is made to wait longer. aiogram neither paces nor retries, so this request middleware on
the bot's session does, and handlers stay plain ``message.answer(...)``:

* **Proactive**: a token bucket for the whole bot and one for each chat, set stricter than
  Telegram's limits, so 429s are rare rather than the control signal. Waiting calls are
  served by priority (:class:`Lane`): a cashier's own status before a handler's reply, both
  before supervisor news; within a lane, in order.
* **Reactive**: a 429 closes that chat for ``retry_after`` seconds — no call reaches the chat
  inside the window — and the call is retried after it. Telegram does not say whether a 429
  is the chat's or the bot's: it is taken as the chat's, and when several chats are refused
  close together the bot-wide budget is lowered for a while.
* **Edits coalesce**: while an edit of a message waits, a newer edit of the same message takes
  its place, and both callers get the newer result (a ⏳ still waiting when ✅ is known is
  never sent).
* ``answerCallbackQuery`` and the other calls Telegram does not count pass straight through.

A call that cannot be delivered within its lane's bound is logged with the update it
belongs to and raises: nothing disappears silently. The buckets and wait windows live
behind :class:`BudgetStore`: in this process (:class:`LocalBudgetStore`), or with
``REDIS_URL`` in Redis (:class:`RedisBudgetStore`), shared by every instance — Telegram's
limits are the bot's, not a process's, so three instances together keep to one budget, and a
window Telegram announced to one of them holds for all.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

from bot.logs import log_context

if TYPE_CHECKING:
    from redis.asyncio import Redis

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


@dataclass(frozen=True, slots=True)
class Budget:
    """Defaults are stricter than Telegram's published limits."""

    bot_rate: float = 25.0  # per second, whole bot
    bot_burst: float = 20.0
    private_rate: float = 1.0  # per second, one private chat
    private_burst: float = 6.0
    group_rate: float = 18 / 60  # per second, one group (20 a minute at Telegram)
    group_burst: float = 15.0
    margin: float = 0.05  # seconds added to every retry_after
    #: Lower the bot-wide rate when this many chats are refused within ``storm_window``.
    storm_chats: int = 3
    storm_window: float = 2.0
    storm_factor: float = 0.5
    storm_recovery: float = 30.0
    #: How long a call may wait, per lane, before it is given up (logged, raised).
    bounds: tuple[float, ...] = (300.0, 120.0, 600.0, 600.0, 900.0)


class BudgetStore(Protocol):
    """Where buckets and wait windows live: this process, or Redis for every instance."""

    async def acquire(self, key: str, rate: float, burst: float, priority: int) -> None:
        """Wait for one token of bucket ``key`` (served by ``priority``, then arrival)."""

    async def block(self, key: str, seconds: float) -> None:
        """Nobody gets a token of ``key`` for ``seconds`` (a 429 window)."""

    def set_rate(self, key: str, rate: float) -> None:
        """Change bucket ``key``'s refill rate from now on."""

    async def window(self, key: str) -> float:
        """Seconds left of a 429 window on ``key`` (0: none)."""

    def waiting(self) -> dict[int, int]:
        """Calls waiting now, by priority."""


class _Gate:
    """A token bucket whose waiters are served by priority, then in order of arrival."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self._clock = clock
        self._stamp = clock()
        self.blocked_until = 0.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    @property
    def idle(self) -> bool:
        self._refill(self._clock())
        return (
            not self._waiters and self.tokens >= self.burst and self._clock() >= self.blocked_until
        )

    async def take(self, priority: int) -> None:
        now = self._clock()
        self._refill(now)
        if not self._waiters and now >= self.blocked_until and self.tokens >= 1:
            self.tokens -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (priority, next(self._seq), future)
        heapq.heappush(self._waiters, entry)
        self._schedule()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.tokens += 1  # granted as we were cancelled: give it back
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)
                heapq.heapify(self._waiters)
            self._schedule()
            raise

    def block(self, until: float) -> None:
        self.blocked_until = max(self.blocked_until, until)
        self._reschedule()

    def _reschedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None or not self._waiters:
            return
        now = self._clock()
        self._refill(now)
        delay = max(self.blocked_until - now, (1 - self.tokens) / self.rate if self.rate else 1.0)
        self._timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._release)

    def _release(self) -> None:
        self._timer = None
        now = self._clock()
        self._refill(now)
        while self._waiters and now >= self.blocked_until and self.tokens >= 1:
            _priority, _seq, future = heapq.heappop(self._waiters)
            if future.done():
                continue
            self.tokens -= 1
            future.set_result(None)
        self._schedule()

    def waiting(self) -> list[int]:
        return [p for p, _s, f in self._waiters if not f.done()]


class LocalBudgetStore:
    """Buckets in this process's memory; idle per-chat buckets are forgotten (bounded)."""

    MAX_GATES = 10_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._gates: OrderedDict[str, _Gate] = OrderedDict()

    def _gate(self, key: str, rate: float, burst: float) -> _Gate:
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _Gate(rate, burst, self._clock)
            if len(self._gates) > self.MAX_GATES:
                for old_key, old in list(self._gates.items())[: len(self._gates) // 10]:
                    if old.idle:
                        del self._gates[old_key]
        self._gates.move_to_end(key)
        return gate

    async def acquire(self, key: str, rate: float, burst: float, priority: int) -> None:
        await self._gate(key, rate, burst).take(priority)

    async def block(self, key: str, seconds: float) -> None:
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gate(key, 1.0, 1.0)
        gate.block(self._clock() + seconds)

    def set_rate(self, key: str, rate: float) -> None:
        gate = self._gates.get(key)
        if gate is not None:
            gate._refill(self._clock())
            gate.rate = rate
            gate._reschedule()

    async def window(self, key: str) -> float:
        gate = self._gates.get(key)
        return max(0.0, gate.blocked_until - self._clock()) if gate is not None else 0.0

    def waiting(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for gate in self._gates.values():
            for priority in gate.waiting():
                counts[priority] = counts.get(priority, 0) + 1
        return counts


#: One token of a bucket shared in Redis, on Redis's clock (instances' clocks may differ):
#: 0 when taken, else how long to wait (s). A 429 window (KEYS[2]) holds every instance off.
_TAKE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, burst = math.max(tonumber(ARGV[1]), 0.001), math.max(tonumber(ARGV[2]), 1)
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return tostring(blocked - now) end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""
#: Seconds left of the window KEYS[1] (0: none).
_WINDOW = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0')
return tostring(math.max(0, blocked - now))
"""
#: Close bucket KEYS[1] for ARGV[1] seconds from Redis's now (a longer window stays).
_BLOCK = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local untils = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untils > current then
    redis.call('SET', KEYS[1], tostring(untils), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 1
"""


class _Turns:
    """This process's waiters of one shared bucket, by priority then arrival: only the
    first asks Redis, so a status still goes before a feed line."""

    def __init__(self) -> None:
        self.heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self.seq = itertools.count()
        self.busy = False

    async def enter(self, priority: int) -> None:
        if not self.busy and not self.heap:
            self.busy = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (priority, next(self.seq), future)
        heapq.heappush(self.heap, entry)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.leave()  # handed the turn as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self.heap.remove(entry)
                    heapq.heapify(self.heap)
            raise

    def leave(self) -> None:
        while self.heap:
            _priority, _seq, future = heapq.heappop(self.heap)
            if not future.done():
                future.set_result(None)  # the turn passes; busy stays True
                return
        self.busy = False


class RedisBudgetStore:
    """Buckets and 429 windows in Redis, shared by every instance of the bot (the same
    ``REDIS_PREFIX``). If Redis cannot be reached, this process paces itself meanwhile
    (its own buckets) rather than stop talking to Telegram."""

    #: A Redis that does not answer within this is taken as unreachable for that call...
    REDIS_WAIT = 2.0
    #: ...and is not asked again for this long (calls meanwhile are paced here alone).
    RETRY_AFTER = 5.0

    def __init__(self, redis: Redis, prefix: str, fallback: LocalBudgetStore | None = None) -> None:
        from redis.exceptions import RedisError  # redis loads only where REDIS_URL is set

        #: What a call to an unreachable or silent Redis raises.
        self._failures: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
        self._redis = redis
        self._prefix = f"{prefix}:pace"
        self._take = redis.register_script(_TAKE)
        self._block = redis.register_script(_BLOCK)
        self._window = redis.register_script(_WINDOW)
        self._turns: dict[str, _Turns] = {}
        self.fallback = fallback or LocalBudgetStore()
        self._unreachable = False
        self._retry_at = 0.0

    def _keys(self, key: str) -> list[str]:
        return [f"{self._prefix}:{key}", f"{self._prefix}:{key}:window"]

    def _lost(self, exc: BaseException) -> None:
        if not self._unreachable:
            log.warning(
                "pacing: Redis unreachable (%s); this instance paces itself",
                type(exc).__name__,
            )
        self._unreachable = True
        self._retry_at = time.monotonic() + self.RETRY_AFTER

    def _reached(self) -> None:
        if self._unreachable:
            log.warning("pacing: Redis reachable again; the budget is shared again")
        self._unreachable = False

    async def acquire(self, key: str, rate: float, burst: float, priority: int) -> None:
        if time.monotonic() < self._retry_at:
            await self.fallback.acquire(key, rate, burst, priority)
            return
        turns = self._turns.setdefault(key, _Turns())
        await turns.enter(priority)
        try:
            while True:
                try:
                    async with asyncio.timeout(self.REDIS_WAIT):
                        answer = await self._take(keys=self._keys(key), args=[rate, burst])
                    wait = float(answer)
                except self._failures as exc:
                    self._lost(exc)
                    await self.fallback.acquire(key, rate, burst, priority)
                    return
                self._reached()
                if wait <= 0:
                    return
                await asyncio.sleep(wait)
        finally:
            turns.leave()
            if not turns.busy and not turns.heap:
                self._turns.pop(key, None)

    async def block(self, key: str, seconds: float) -> None:
        await self.fallback.block(key, seconds)  # this process at once, whatever Redis does
        if time.monotonic() < self._retry_at:
            return
        try:
            async with asyncio.timeout(self.REDIS_WAIT):
                await self._block(keys=[self._keys(key)[1]], args=[seconds])
        except self._failures as exc:
            self._lost(exc)

    def set_rate(self, key: str, rate: float) -> None:
        """Each caller passes its rate with every token it asks for: nothing kept here."""
        self.fallback.set_rate(key, rate)

    async def window(self, key: str) -> float:
        here = await self.fallback.window(key)
        if time.monotonic() < self._retry_at:
            return here
        try:
            async with asyncio.timeout(self.REDIS_WAIT):
                shared = float(await self._window(keys=[self._keys(key)[1]]))
        except self._failures as exc:
            self._lost(exc)
            return here
        return max(here, shared)

    def waiting(self) -> dict[int, int]:
        counts = self.fallback.waiting()
        for turns in self._turns.values():
            for priority, _seq, future in turns.heap:
                if not future.done():
                    counts[priority] = counts.get(priority, 0) + 1
        return counts


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
        if name not in COUNTED or chat_id is None:
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
