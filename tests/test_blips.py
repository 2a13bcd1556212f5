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
from bot.infra.outage import PartDown
from bot.infra.redaction import is_postgres_url
from bot.store import postgres
from bot.store.backends import open_database
from bot.telegram.cashin.keyboards import retry_confirm_keyboard
from bot.telegram.cashin.texts import confirm_unrecorded
from tests.harness import CASHIER, CASHIER_2, STRANGER, Harness, holding
from tests.tcpproxy import CutProxy

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends


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


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_silent_server_never_hangs_the_database_thread(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call waiting on a server that accepts bytes and never answers is cut at its
    deadline by its own timer — also when its caller gave up first (as /healthz does) — so
    the calls queued behind it fail fast instead of waiting for ever, and the next call
    after the server returns works."""
    monkeypatch.setattr(postgres, "CALL_DEADLINE", 1.0)
    async with journal_for(database_url) as (url, proxy):
        assert proxy is not None
        db = open_database(url)
        await db.open()
        try:
            assert await db.read(lambda tx: tx.value("SELECT 1")) == 1
            await proxy.cut("stall")
            with pytest.raises(TimeoutError):  # the caller gives up before the deadline
                await asyncio.wait_for(db.read(lambda tx: tx.value("SELECT 1")), 0.3)
            started = time.monotonic()
            with pytest.raises(PartDown):  # queued behind it: failed, not hung
                await asyncio.wait_for(db.read(lambda tx: tx.value("SELECT 2")), 30)
            assert time.monotonic() - started < 15
            assert not db.part.up
            await proxy.mend()
            assert await db.read(lambda tx: tx.value("SELECT 3")) == 3
            assert db.part.up
        finally:
            await db.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_update_kept_though_its_answer_was_lost_is_not_handled_after_all(
    controlled: Any, telegram: FakeTelegram, database_url: str
) -> None:
    """Keeping an update failed as far as the bot knows (PostgreSQL's answer lost): the
    person is told "temporarily unavailable — nothing was sent". The write had landed all
    the same: the update is marked done, and never handled later behind their back."""
    async with journal_for(database_url) as (url, proxy), controlled(database_url=url) as h:
        assert proxy is not None
        user = h.user(CASHIER)
        await h.say(user, "/start")
        proxy.lose_answer(b"INSERT INTO updates", b"Z\x00\x00\x00\x05I")
        mark = telegram.mark()
        telegram.send_text(user, "/cashin")
        told = await telegram.wait_message(CASHIER, after=mark)
        assert "Temporarily unavailable" in told.text and proxy.lost_answers == 1
        async with asyncio.timeout(10):  # kept after all, and marked done
            while await h.app.db.query(  # noqa: ASYNC110
                "SELECT 1 FROM updates WHERE done_at IS NULL"
            ):
                await asyncio.sleep(0.05)
        passes = h.app.intake.last_pass_ok
        h.app.intake.wakeup.set()  # the loop that takes unfinished updates: nothing to take
        async with asyncio.timeout(10):
            while h.app.intake.last_pass_ok == passes:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert telegram.messages(CASHIER)[-1].message_id == told.message_id


async def test_a_card_that_says_not_confirmed_over_its_payment_shows_it_again(
    harness: Harness,
) -> None:
    """The confirm's COMMIT landed, its answer was lost, and the card's "not confirmed yet"
    reached Telegram after the payment's ✅ (another lane): its 🔄 shows the payment again —
    never silence that invites a second top-up."""
    user = harness.user(CASHIER)
    card = await ready_card(harness, user)
    [draft_id] = [str(b[1]).rsplit(":", 1)[1] for b in card.callback_buttons[:1]]
    await harness.press(user, card, "Confirm")
    await harness.wait_status(CASHIER, card.message_id, "✅")
    app = harness.app
    with app.i18n.context(), app.i18n.use_locale("en"):
        text, markup = confirm_unrecorded(), retry_confirm_keyboard(draft_id)
    await app.bot.edit_message_text(
        text, chat_id=CASHIER, message_id=card.message_id, reply_markup=markup
    )
    await harness.tg.wait_for(lambda: "not confirmed yet" in card.text)
    await harness.press(user, card, "Try again")
    await harness.wait_status(CASHIER, card.message_id, "✅")
    [payment], _ = await harness.journal.payments_page(None, 0, 10)
    assert harness.sandbox.stats.pay_guids == {payment.guid: 1}
