"""The journal goes away and comes back: nothing is lost, doubled or left unanswered, and
the bot recovers by itself — on SQLite (another process holds the journal) and on PostgreSQL
(a TCP proxy between the bot and the server, cut: refused, or accepted and silent)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.devtools.telegram import FakeTelegram
from bot.store.db import is_postgres_url
from tests.harness import CASHIER, CASHIER_2, STRANGER, Harness, holding
from tests.tcpproxy import CutProxy


@contextlib.asynccontextmanager
async def journal_for(database_url: str) -> AsyncIterator[tuple[str, CutProxy | None]]:
    """The URL the bot is given: PostgreSQL through a proxy the test can cut."""
    if not is_postgres_url(database_url):
        yield database_url, None
        return
    proxy = CutProxy("127.0.0.1", 5432)
    await proxy.start()
    try:
        yield proxy.url(database_url), proxy
    finally:
        await proxy.close()


@contextlib.asynccontextmanager
async def journal_away(database_url: str, proxy: CutProxy | None, mode: str) -> AsyncIterator[None]:
    """The journal cannot be used meanwhile: its server cut (PostgreSQL), or another process
    holding it (SQLite: writes wait out the busy timeout, then fail)."""
    if proxy is None:
        async with holding(database_url):
            yield
        return
    await proxy.cut(mode)
    try:
        yield
    finally:
        await proxy.mend()


async def ready_card(h: Harness, user: dict[str, Any]) -> Any:
    """A confirmation card for client 02 (✅ at once), 3 000 ₸."""
    return await h.top_up_card(user, "77000000002", "3000")


def unavailable(telegram: FakeTelegram, before: set[str]) -> bool:
    return any(
        "Temporarily unavailable" in str(answer.get("text")) and answer.get("show_alert")
        for query, answer in telegram.callback_answers.items()
        if query not in before
    )


def unrecorded(telegram: FakeTelegram, card: Any) -> bool:
    """The card says its confirm could not be recorded, with "try again" and "cancel" only."""
    now = the(telegram, card)
    return (
        now.message_id == card.message_id
        and "not confirmed yet" in now.text
        and [label for label, _ in now.callback_buttons] == ["🔄 Try again", "✖️ Cancel"]
    )


def the(telegram: FakeTelegram, card: Any) -> Any:
    """The card as it is now."""
    return next(m for m in telegram.messages(CASHIER_2) if m.message_id == card.message_id)


def pending_guid(h: Harness) -> str:
    [guid] = [g for g in h.sandbox.stats.pay_guids]
    return guid


@pytest.mark.parametrize("seconds", [6, 35])
async def test_the_journal_away_loses_nothing_and_recovers_by_itself(
    controlled: Any, telegram: FakeTelegram, database_url: str, seconds: int
) -> None:
    mode = "refuse" if seconds < 10 else "stall"
    async with (
        journal_for(database_url) as (url, proxy),
        controlled(database_url=url, pending_retry_min=2.0, pending_retry_max=2.0) as h,
    ):
        first, second, stranger = h.user(CASHIER), h.user(CASHIER_2), h.user(STRANGER)
        _card, pending = await h.pending_top_up(first, "4000")  # ⏳, resent in 2 s
        card = await ready_card(h, second)
        await h.app.intake.wait_idle(10)  # the card's step has finished (it records the card)
        loops = h.app.loops
        async with journal_away(database_url, proxy, mode):
            away = time.monotonic()
            # A confirm now: it cannot be kept (the press is answered "temporarily
            # unavailable") or its journaling fails (the card says so): nothing is sent, and
            # nothing invites a second top-up.
            answers = set(telegram.callback_answers)
            h.tg.press_button(second, card, "Confirm")
            await telegram.wait_for(
                lambda: unavailable(telegram, answers) or unrecorded(telegram, card),
                timeout=seconds + 20,
            )
            again = "Try again" if unrecorded(telegram, card) else "Confirm"
            assert h.sandbox.stats.pay_guids.keys() == {pending_guid(h)}
            # A step that cannot be kept is answered, never silence.
            mark = telegram.mark()
            telegram.send_text(first, "/today")
            busy = await telegram.wait_message(CASHIER, after=mark, timeout=seconds + 20)
            assert "Temporarily unavailable" in busy.text and "nothing was sent" in busy.text
            rest = seconds - (time.monotonic() - away)
            if rest > 0:
                await asyncio.sleep(rest)  # the outage's length is the test's subject
        back = time.monotonic()
        # The ⏳ payment is resent with its GUID and ends ✅, without a restart.
        await h.wait_status(CASHIER, pending.message_id, "✅", timeout=10)
        # The cashier tries the same card again: one payment, shown within 5 s.
        h.tg.press_button(second, the(telegram, card), again)
        await h.wait_status(CASHIER_2, card.message_id, "✅", timeout=10)
        assert time.monotonic() - back < 5 + 2  # 5 s, plus the press's own round trips
        assert all(loop.alive for loop in loops), [loop.name for loop in loops if not loop.alive]
        payments, _total = await h.journal.payments_page(None, 0, 10)
        assert len(payments) == 2
        stats = h.sandbox.stats.pay_guids
        assert set(stats) == {p.guid for p in payments}
        new = next(p for p in payments if p.cashier_id == CASHIER_2)
        assert stats[new.guid] == 1  # the card pressed twice made one payment, sent once
        # A stranger's step after the return is answered as usual.
        assert "Telegram id" in (await h.say(stranger, "/start")).text
        assert h.app.db.part.up


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_confirm_whose_commit_answer_is_lost_is_sent_and_shown(
    controlled: Any, telegram: FakeTelegram, database_url: str
) -> None:
    """PostgreSQL committed the confirm, and its answer never reached the bot: the GUID it
    journaled is sent, once, and the card shows it within seconds."""
    async with journal_for(database_url) as (url, proxy), controlled(database_url=url) as h:
        assert proxy is not None
        user = h.user(CASHIER)
        card = await ready_card(h, user)
        # The first answer after the payment's INSERT that ends a transaction (PostgreSQL's
        # ReadyForQuery, status idle) is the COMMIT's: prepared statements send no text.
        proxy.lose_answer(b"INSERT INTO payments", b"Z\x00\x00\x00\x05I")
        pressed = time.monotonic()
        h.tg.press_button(user, card, "Confirm")
        await h.wait_status(CASHIER, card.message_id, "✅", timeout=10)
        assert time.monotonic() - pressed < 5
        assert proxy.lost_answers == 1
        [payment], _ = await h.journal.payments_page(None, 0, 10)
        assert h.sandbox.stats.pay_guids == {payment.guid: 1}
