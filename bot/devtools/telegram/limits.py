"""Realistic mode's flood limits: Telegram's token buckets per chat and for the bot, and the
429 windows they announce (``retry after N``), kept by :class:`FloodGate`.

The stand-in's realistic mode (``FakeTelegram(realistic=True)``) asks the gate before every
counted call; the windows it announced and the calls that came back too soon are remembered
for the tests to read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits as token buckets: a rate in tokens per second and a burst."""

    bot_rate: float = 30.0
    bot_burst: float = 30.0
    private_rate: float = 1.0  # a chat with a person (chat_id > 0)
    private_burst: float = 8.0
    group_rate: float = 20 / 60  # a group or channel (chat_id < 0)
    group_burst: float = 20.0


#: Calls that spend a token of their chat's bucket and of the bot's (sends and edits alike).
#: Telegram's side, kept apart from the bot's own list in ``bot.telegram.runtime.pacing`` on
#: purpose: a stand-in that imported the bot's assumption could never catch it being wrong.
COUNTED_METHODS = frozenset(
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


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until the next whole token (0 if there is one)."""
        return max(0.0, (1 - self.tokens) / self.rate)


class FloodGate:
    """The buckets (a chat's, keyed by its id, and the bot's, keyed None) on ``clock``."""

    def __init__(self, limits: Limits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._buckets: dict[int | None, _Bucket] = {}  # None: the bot's own
        self._windows_until: dict[int | None, float] = {}
        #: Every announced 429 window: (chat_id, or None for the bot-wide one; its end).
        self.windows: list[tuple[int | None, float]] = []
        #: Counted calls that came while a window announced to them was open: (when, method, chat).
        self.calls_inside_window: list[tuple[float, str, int | None]] = []

    def check(self, method: str, chat_id: int | None) -> int:
        """Take a token of the chat's bucket and the bot's, or say how long to wait (s)."""
        now = self.clock()
        keys: list[int | None] = [None] if chat_id is None else [chat_id, None]
        open_until = max(self._windows_until.get(k, now) for k in keys)
        if open_until > now:  # told to wait, yet here again: refused, and remembered
            self.calls_inside_window.append((now, method, chat_id))
            return _whole_seconds(open_until - now)
        buckets = [self._bucket(k, now) for k in keys]
        waits = [b.wait() for b in buckets]
        if max(waits) > 0:
            key = keys[waits.index(max(waits))]
            seconds = _whole_seconds(max(waits))
            self._windows_until[key] = now + seconds
            self.windows.append((key, now + seconds))
            return seconds
        for bucket in buckets:
            bucket.tokens -= 1
        return 0

    def _bucket(self, key: int | None, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            limits = self.limits
            if key is None:
                rate, burst = limits.bot_rate, limits.bot_burst
            elif key > 0:
                rate, burst = limits.private_rate, limits.private_burst
            else:
                rate, burst = limits.group_rate, limits.group_burst
            bucket = self._buckets[key] = _Bucket(rate, burst, burst, now)
        bucket.refill(now)
        return bucket


def _whole_seconds(seconds: float) -> int:
    """Telegram's ``retry_after``: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds - 1e-9))
