"""A background loop that works in passes and sleeps until its next due moment or a wake-up.

Shared by the payment resolver and the Telegram outbox worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime

from bot.domain.clock import utcnow

log = logging.getLogger(__name__)


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds; True if it was set.

    Not ``asyncio.wait_for``: on Python 3.11 it can swallow a cancellation that arrives as
    the event is set (gh-86296), and a loop being stopped would then run on for ever.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
            return True
    return False


class BackgroundLoop(ABC):
    name = "loop"

    def __init__(self, *, clock: Callable[[], datetime] = utcnow, idle: float = 30.0) -> None:
        self._clock = clock
        self._idle = idle
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.last_run: datetime | None = None

    @abstractmethod
    async def run_once(self) -> int:
        """One pass; returns how much it did."""

    @abstractmethod
    async def next_due(self) -> datetime | None:
        """When the next pass has work, or None for 'only when woken (or idle)'."""

    def start(self) -> asyncio.Task[None]:
        self.task = asyncio.create_task(self.run(), name=self.name)
        return self.task

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()

    async def stop(self) -> None:
        task = self.task
        while task is not None and not task.done():
            task.cancel()
            # A cancellation that lands as the task finishes a wait can be lost: ask again.
            await asyncio.wait({task}, timeout=1.0)
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.error("%s ended with an error", self.name, exc_info=task.exception())

    async def run(self) -> None:
        while True:
            self.last_run = self._clock()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s pass failed; trying again", self.name)
            await self._sleep()

    async def _sleep(self) -> None:
        due = await self.next_due()
        delay = self._idle
        if due is not None:
            delay = max(0.0, min(delay, (due - self._clock()).total_seconds()))
        if delay > 0:
            await wait_event(self.wakeup, delay)
        self.wakeup.clear()
