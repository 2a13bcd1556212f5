"""A background loop that works in passes and sleeps until its next due moment or a wake-up.

Shared by the payment resolver, the Telegram outbox worker, the approval sweeper, the
housekeeping, the digest scheduler, the balance watch and the update intake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime

from bot.domain.clock import utcnow
from bot.infra.outage import PartDown

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


#: Waits between failed passes: doubling from the first to the last, so a part that comes
#: back is used again within RETRY[-1] seconds.
RETRY = (0.25, 2.0)
#: A loop whose task ends anyway (a bug past every guard) is started again this many times
#: in a row before the process gives up and exits non-zero (a supervisor restarts it).
MAX_RESTARTS = 5


class LoopDied(Exception):
    """A background loop ended and could not be started again: the process must exit."""


class BackgroundLoop(ABC):
    """Passes, each followed by a sleep until the next due moment or a wake-up.

    It cannot die quietly: a failure anywhere — in a pass or in finding the next moment (both
    read the journal) — is logged once when it starts and once when it ends, waited out with
    a short backoff and tried again. A task that ends anyway is started again; after
    MAX_RESTARTS in a row ``died`` is set, and the process exits non-zero.
    """

    name = "loop"

    def __init__(self, *, clock: Callable[[], datetime] = utcnow, idle: float = 30.0) -> None:
        self._clock = clock
        self._idle = idle
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        #: When the latest pass started, and when one last completed without an error.
        self.last_run: datetime | None = None
        self.last_pass_ok: datetime | None = None
        #: Since when its passes fail (None: they work).
        self.failing_since: datetime | None = None
        self.restarts = 0
        #: Set when the loop ended for good; the process watches it and exits.
        self.died = asyncio.Event()
        self._stopping = False

    @abstractmethod
    async def run_once(self) -> int:
        """One pass; returns how much it did."""

    @abstractmethod
    async def next_due(self) -> datetime | None:
        """When the next pass has work, or None for 'only when woken (or idle)'."""

    def start(self) -> asyncio.Task[None]:
        self._stopping = False
        self.task = asyncio.create_task(self.run(), name=self.name)
        self.task.add_done_callback(self._ended)
        return self.task

    def _ended(self, task: asyncio.Task[None]) -> None:
        if self._stopping or task is not self.task:
            return
        error = None if task.cancelled() else task.exception()
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            log.critical(
                "%s ended %d times in a row; stopping the process", self.name, self.restarts
            )
            self.died.set()
            return
        log.error("%s ended unexpectedly; starting it again", self.name, exc_info=error)
        self.start()

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()

    async def stop(self) -> None:
        self._stopping = True
        task = self.task
        while task is not None and not task.done():
            task.cancel()
            # A cancellation that lands as the task finishes a wait can be lost: ask again.
            await asyncio.wait({task}, timeout=1.0)
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.error("%s ended with an error", self.name, exc_info=task.exception())

    async def run(self) -> None:
        failures = 0
        while True:
            self.last_run = self._clock()
            try:
                await self.run_once()
                delay = await self._delay()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1:
                    self.failing_since = self._clock()
                    self._log_failure(exc)
                delay = min(RETRY[1], RETRY[0] * 2 ** (failures - 1))
            else:
                if failures:
                    log.info("%s works again after %d failed pass(es)", self.name, failures)
                failures = 0
                self.failing_since = None
                self.last_pass_ok = self._clock()
                self.restarts = 0
            if delay > 0:
                await wait_event(self.wakeup, delay)
            self.wakeup.clear()

    def _log_failure(self, exc: Exception) -> None:
        if isinstance(exc, PartDown):  # the part said so already, once
            log.info("%s: %s; retrying every %.0f s until it answers", self.name, exc, RETRY[1])
        else:
            log.error("%s pass failed; retrying", self.name, exc_info=exc)

    async def _delay(self) -> float:
        due = await self.next_due()
        delay = self._idle
        if due is not None:
            delay = max(0.0, min(delay, (due - self._clock()).total_seconds()))
        return delay
