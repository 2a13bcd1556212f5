"""Background loops stop when asked, whatever else happens at that moment."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from bot.infra.loops import MAX_RESTARTS, BackgroundLoop, wait_event
from bot.infra.outage import PartDown
from bot.store.sqlite import SqliteDatabase
from bot.wiring.serving import _watch_loops
from tests.harness import CASHIER, CASHIER_2, SUPERVISOR_CHAT, Harness


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


# ---------------------------------------------------------------- the journal fails a loop


@dataclass
class JournalFault:
    """Fails a loop's own journal calls — in its pass (``run_once``) and in finding its next
    moment (``next_due``) — with :class:`PartDown`, as a journal that went away does: for a
    number of calls of each kind, or until a moment."""

    loop: str
    calls: int = 0  # each kind's first N calls fail
    until: float = 0.0  # or every call until this monotonic moment
    next_due_from: float = 0.0  # and before it, from this moment, those of next_due
    failed: Counter[str] = field(default_factory=Counter)

    def check(self) -> None:
        task = asyncio.current_task()
        if task is None or task.get_name() != self.loop:
            return
        kind = _caller()
        if kind is None:
            return
        now = time.monotonic()
        if now < self.next_due_from and kind == "run_once":
            return
        if now < self.until or self.failed[kind] < self.calls:
            self.failed[kind] += 1
            raise PartDown("journal", "cut by the test")


def _caller() -> str | None:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name in ("run_once", "next_due"):
            return frame.f_code.co_name
        frame = frame.f_back  # type: ignore[assignment]
    return None


@contextlib.contextmanager
def failing(monkeypatch: pytest.MonkeyPatch, faults: list[JournalFault]) -> Iterator[None]:
    """Every journal's read and write go through ``faults`` first (installed before the bot
    starts: a loop's very first pass fails too)."""
    for name in ("read", "write"):
        for cls in (SqliteDatabase,):
            original = getattr(cls, name)

            def wrapped(self: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
                for fault in faults:
                    fault.check()
                return _original(self, *args, **kw)

            monkeypatch.setattr(cls, name, wrapped)
    yield


LOOPS = ["resolver", "outbox", "approvals", "housekeeping", "digest"]
#: The loops whose next moment is read from the journal (the others compute it).
NEXT_DUE_READS = {"resolver", "outbox", "approvals"}


async def _work_of_every_loop(h: Harness, card: Any) -> None:
    """What each loop must have done once its journal answers again."""
    # resolver: a ⏳ top-up resent and ✅; outbox: that status delivered to the card.
    await h.wait_status(CASHIER, card.message_id, "✅", timeout=40)
    assert h.sandbox.stats.pay_guids.most_common(1)[0][1] == 2  # sent, then resent
    # approvals: a request nobody decided has expired.
    async with asyncio.timeout(30):
        while await h.app.desk.waiting():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    # digest: today's digest queued and delivered to the supervisors' chat.
    await h.tg.wait_message(
        SUPERVISOR_CHAT, lambda m: "Digest" in m.text or "📊" in m.text, timeout=30
    )

    # housekeeping: the day's lease taken by this instance (its pass after the fault may come
    # after the others' work, as its retry falls: waited for, as they are).
    async def owners() -> list[str]:
        rows = await h.app.db.query("SELECT owner FROM leases WHERE name = 'housekeeping'")
        return [str(r[0]) for r in rows]

    async with asyncio.timeout(30):
        while not await owners():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert await owners() == [h.app.sender.instance]
    assert all(loop.alive for loop in h.app.loops)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("how", ["one call", "20 s"])
async def test_every_loop_outlives_its_journal_failing(
    controlled: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "one call":
        faults = [JournalFault(name, calls=1) for name in LOOPS]
    else:
        # 20 s: where the next moment is read, that fails from the start and every pass
        # too after 10 s; elsewhere every pass fails from the start.
        start = time.monotonic()
        faults = [
            JournalFault(
                name, until=start + 20, next_due_from=start + 10 if name in NEXT_DUE_READS else 0
            )
            for name in LOOPS
        ]
    with failing(monkeypatch, faults):
        async with controlled(
            digest_time="00:00",  # today's is due at once
            approval_threshold=100000,
            approval_timeout=0.5,
            prune_after_days=30,
        ) as h:
            cashier = h.user(CASHIER_2)
            big = await h.top_up_card(cashier, "77000000002", "150000")
            await h.press(cashier, big, "Confirm")  # waits for a supervisor: expires
            # Client 01: Allpay's first answer is ⏳; the resolver's resend gets the ✅.
            card = await h.top_up_card(h.user(CASHIER), "77000000001", "4000")
            await h.press(h.user(CASHIER), card, "Confirm")
            await _work_of_every_loop(h, card)
            # Past the fault: every loop works again and takes new work.
            async with asyncio.timeout(30):
                while any(loop.failing_since or not loop.last_pass_ok for loop in h.app.loops):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            assert all(time.monotonic() >= f.until for f in faults)
            again = await h.top_up_card(h.user(CASHIER), "77000000001", "5000")
            await h.press(h.user(CASHIER), again, "Confirm")
            await h.wait_status(CASHIER, again.message_id, "✅", timeout=10)
            for loop in h.app.loops:
                assert loop.alive and loop.restarts == 0, loop.name
    for fault in faults:  # each loop did fail, in its pass and in finding its next moment
        assert fault.failed["run_once"] >= 1, fault
        if fault.loop in NEXT_DUE_READS:
            assert fault.failed["next_due"] >= 1, fault


class Doomed(BackgroundLoop):
    """A pass that ends its task past every guard (a bug that raises a BaseException)."""

    name = "doomed"

    class Boom(BaseException):
        pass

    async def run_once(self) -> int:
        raise self.Boom

    async def next_due(self) -> datetime | None:
        return None


async def test_a_loop_that_ends_is_started_again_then_stops_the_process() -> None:
    loop = Doomed(idle=10)
    stop = asyncio.Event()
    watcher = asyncio.create_task(
        _watch_loops(SimpleNamespace(loops=(loop,), name_lost=None), stop)
    )  # type: ignore[arg-type]
    loop.start()
    await asyncio.wait_for(stop.wait(), 10)  # the process is told to stop...
    assert loop.died.is_set() and loop.restarts == MAX_RESTARTS + 1  # ...after restarts
    assert not loop.alive
    await watcher
    await loop.stop()
