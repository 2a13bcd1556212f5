"""Telegram says no: a busy hour through a stand-in with Telegram's latency and flood limits
(issue 12). No reply lost, ✅ first, every payment in the supervisors' feed exactly once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.devtools.telegram import FakeTelegram, Fault
from tests.fixtures import sandbox_folder
from tests.harness import CASHIER, SUPERVISOR, SUPERVISOR_CHAT, Harness, running_bot, settings_for
from tests.rush import LOGIN, cashier_ids, feed_guids, rush

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends

CASHIERS = 40


@pytest.fixture
async def realistic() -> AsyncIterator[FakeTelegram]:
    tg = FakeTelegram(realistic=True, seed=12)
    await tg.start()
    try:
        yield tg
    finally:
        await tg.close()


async def test_forty_cashiers_in_five_seconds_all_end_done_and_the_feed_is_whole(
    tmp_path: Path, sandbox_keys: Path, realistic: FakeTelegram, database_url: str
) -> None:
    settings = settings_for(
        tmp_path,
        realistic.base_url,
        database_url=database_url,
        sandbox_dir=sandbox_folder(tmp_path, sandbox_keys),
        cashier_ids=cashier_ids(CASHIERS),
        supervisor_chat_ids=[SUPERVISOR_CHAT, SUPERVISOR],
        pending_retry_min=2.0,
        pending_retry_max=5.0,
        allpay_timeout=10.0,
    )
    async with running_bot(settings, realistic) as h:
        result = await rush(realistic, CASHIERS, within=5.0, timeout=90.0)
        assert result.lost == [], [(r.cashier_id, r.lost) for r in result.lost]
        payments = (await h.journal.payments_page(None, 0, 1000))[0]
        assert len(payments) == CASHIERS
        assert all(p.status.value == "COMPLETED" for p in payments)
        expected = {p.guid.strip("{}")[:8] for p in payments}
        for chat in (SUPERVISOR_CHAT, SUPERVISOR):
            await realistic.wait_for(lambda c=chat: set(feed_guids(realistic, c)) >= expected, 90)
        # Let the outbox settle, then count: each payment exactly once in each feed.
        await realistic.wait_for(lambda: not h.app.outbox._lanes, 30)
        for chat in (SUPERVISOR_CHAT, SUPERVISOR):
            seen = feed_guids(realistic, chat)
            assert set(seen) == expected and set(seen.values()) == {1}, seen
        group_messages = len(realistic.messages(SUPERVISOR_CHAT))
        assert group_messages < CASHIERS  # coalesced, not one message per payment
    assert realistic.calls_inside_window == []


async def test_a_group_in_a_long_wait_never_delays_a_cashiers_status(
    tmp_path: Path, sandbox_keys: Path, telegram: FakeTelegram
) -> None:
    """The group answers 429 with retry_after 30: every cashier's ✅ arrives while the group's
    window is still open (an ordering: no group call is made before all ✅ are out)."""
    sandbox_folder(tmp_path, sandbox_keys)
    telegram.faults.append(
        Fault(
            "sendMessage",
            429,
            "Too Many Requests: retry after 30",
            retry_after=30,
            chat_id=SUPERVISOR_CHAT,
        )
    )
    cashiers = cashier_ids(6)
    settings = settings_for(tmp_path, telegram.base_url, cashier_ids=cashiers)
    async with running_bot(settings, telegram) as h:
        first = await _top_up(h, cashiers[0])
        # The first payment's feed message got the 429: the group's window is open now.
        await telegram.wait_for(
            lambda: not any(f.chat_id == SUPERVISOR_CHAT for f in telegram.faults)
        )
        refused_at = len(telegram.calls)
        for cashier in cashiers[1:]:
            await _top_up(h, cashier)
        group_calls = [
            n
            for n, (method, params) in enumerate(telegram.calls)
            if n >= refused_at and str(params.get("chat_id")) == str(SUPERVISOR_CHAT)
        ]
        assert group_calls == []  # nobody called the group inside its window
        assert h.app.pacer.refused == 1
        assert first.startswith("✅")


async def _top_up(h: Harness, cashier: int) -> str:
    user = h.user(cashier)
    card = await h.top_up_card(user, LOGIN, "1000")
    await h.press(user, card, "Confirm")
    done = await h.wait_status(cashier, card.message_id, "✅")
    return done.text


async def test_a_reply_refused_with_429_still_reaches_the_cashier(harness: Harness) -> None:
    harness.tg.faults.append(
        Fault(
            "sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, chat_id=CASHIER
        )
    )
    user = harness.user()
    started = time.monotonic()
    reply = await harness.say(user, "/cashin", timeout=15)
    assert "login" in reply.text
    assert time.monotonic() - started >= 1.0  # after the wait, not inside it
    sends = [
        p
        for m, p in harness.tg.calls
        if m == "sendMessage" and str(p.get("chat_id")) == str(CASHIER)
    ]
    assert len(sends) == 2  # refused once, delivered once
    assert harness.app.pacer.refused == 1 and harness.app.pacer.retried == 1
