"""Background loops stop when asked, whatever else happens at that moment."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from bot.loops import BackgroundLoop, wait_event


async def test_a_cancellation_is_not_lost_when_the_event_is_set_in_the_same_moment() -> None:
    """asyncio.wait_for on Python 3.11 returns normally here (gh-86296): a loop being
    stopped while something wakes it would then run on for ever."""
    for _ in range(50):
        event = asyncio.Event()
        task = asyncio.create_task(wait_event(event, 10))
        await asyncio.sleep(0)
        event.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


class Busy(BackgroundLoop):
    """Woken all the time, as the outbox is by its lanes finishing."""

    name = "busy"

    async def run_once(self) -> int:
        await asyncio.sleep(0)  # a pass always waits on something (the database)
        self.wakeup.set()
        return 1

    async def next_due(self) -> datetime | None:
        return None


async def test_a_loop_woken_as_it_is_stopped_still_stops() -> None:
    loop = Busy(idle=10)
    loop.start()
    for _ in range(20):
        await asyncio.sleep(0)
        loop.wakeup.set()
        await asyncio.wait_for(loop.stop(), 10)
        assert not loop.alive
        loop.start()
    await loop.stop()
