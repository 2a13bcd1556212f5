"""The pacing layer's budgets: token buckets and 429 wait windows, kept in this process
(:class:`LocalBudgetStore`) or in Redis for every instance (:class:`RedisBudgetStore`)."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis


log = logging.getLogger(__name__)


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
