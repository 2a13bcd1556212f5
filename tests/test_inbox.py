"""The journal's keeping of Telegram's updates (``Inbox``, table ``updates``) without a bot:
claims that a live handler renews are not taken as lapsed, those of a dead process are, and
a finished update is never handed out again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.usecases.inbox import Inbox
from tests.fixtures import Connect

pytestmark = pytest.mark.backends

CLAIM = timedelta(seconds=60)


class _Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


async def test_a_renewed_claim_is_not_lapsed_and_a_done_update_never_returns(
    connect: Connect,
) -> None:
    db = await connect()
    clock = _Clock()
    here = Inbox(db, owner="here", claim=CLAIM, clock=clock)
    there = Inbox(db, owner="there", claim=CLAIM, clock=clock)
    updates = [(1, 200, '{"update_id": 1}'), (2, 201, '{"update_id": 2}'), (3, 202, "{}")]
    assert await here.keep(updates) == {1, 2, 3}
    assert await here.keep(updates[:1]) == set()  # kept once: a second arrival is no news

    clock.at += timedelta(seconds=50)
    await here.renew([1])  # 1's handler still runs here (a reply waiting in the pacer)
    await here.done([3])  # 3 finished
    clock.at += timedelta(seconds=20)  # 70 s: 2's claim ran out (its process died), 1's not

    taken = await there.take_lapsed(10)
    assert [kept.update_id for kept in taken] == [2]
    assert await here.take_lapsed(10) == []  # 2 is "there"'s now; 1 renewed; 3 done

    clock.at += timedelta(seconds=50)  # 120 s: 1's renewed claim (to 110 s) ran out; 2's
    # (taken at 70 s, to 130 s) runs on
    assert [kept.update_id for kept in await there.take_lapsed(10)] == [1]
    await there.done([1, 2])
    clock.at += timedelta(hours=1)
    assert await there.take_lapsed(10) == []
    assert await here.next_lapse() is None
