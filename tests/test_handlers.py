"""Handler tests: the bot's real Dispatcher, routers, middlewares and use cases (the journal on
SQLite, the embedded sandbox) fed updates directly (``Dispatcher.feed_update``), Telegram a
recording session (tests/mocked_bot.py). The middle of the pyramid: what a person sees for
what they type and tap, without HTTP or polling — each step has finished when
``feed_update`` returns. The same flows over HTTP, with the Bot API stand-in, are in
tests/test_conversation.py; crashes, faults and clusters in their own suites."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import Message, Update

from bot.domain.clock import utcnow
from bot.wiring.app import build_app
from bot.wiring.running import App
from tests.fixtures import sandbox_folder, start_from
from tests.harness import CASHIER, STRANGER, SUPERVISOR_CHAT, TOKEN, UNLIMITED, settings_for
from tests.mocked_bot import RecordingSession, Updates, buttons, mocked_bot


@dataclass
class Desk:
    """The bot as handlers see it, and the person at the other end."""

    app: App
    session: RecordingSession
    updates: Updates

    async def feed(self, update: Update) -> None:
        await self.app.dispatcher.feed_update(self.app.bot, update)

    async def say(self, user: dict[str, Any], text: str, *, chat_id: int | None = None) -> Message:
        """``user`` types ``text``; the last message the bot sent or edited in that chat in
        answer (an earlier one does not count)."""
        chat = user["id"] if chat_id is None else chat_id
        return await self._answer(chat, self.updates.text(user, text, chat_id=chat_id))

    async def press(self, user: dict[str, Any], message: Message, label: str) -> None:
        """``user`` presses a button (what it changes may come later: the outbox's)."""
        await self.feed(self.updates.press(user, message, label))

    async def _answer(self, chat_id: int, update: Update) -> Message:
        before = len(self.session.chat(chat_id))
        await self.feed(update)
        answer = self.session.chat(chat_id)[before:]
        assert answer, f"nothing was said in {chat_id} in answer to {update.update_id}"
        return answer[-1]

    async def payments(self) -> list[tuple[str, str]]:
        def read(tx: Any) -> list[tuple[str, str]]:
            rows = tx.all("SELECT guid, status FROM payments ORDER BY created_at")
            return [(str(r["guid"]), str(r["status"])) for r in rows]

        return await self.app.db.read(read)


@contextlib.asynccontextmanager
async def desk_at(
    tmp_path: Path, sandbox_keys: Path, migrated: Path, **options: Any
) -> AsyncIterator[Desk]:
    """The bot built on a recording session (``options``: build_app's, e.g. its clock)."""
    start_from(migrated, f"sqlite:///{tmp_path / 'cashin.sqlite3'}")
    settings = settings_for(
        tmp_path,
        "http://127.0.0.1:9",  # never called: the session records
        sandbox_dir=sandbox_folder(tmp_path, sandbox_keys),
    )
    bot, session = mocked_bot(TOKEN)
    async with build_app(settings, bot, budget=UNLIMITED, **options) as app:
        yield Desk(app, session, Updates())


@pytest.fixture
async def desk(tmp_path: Path, sandbox_keys: Path, migrated_journal: Path) -> AsyncIterator[Desk]:
    async with desk_at(tmp_path, sandbox_keys, migrated_journal) as made:
        yield made


CASHIER_USER = Updates.user(CASHIER)


async def test_start_greets_in_the_telegram_language_with_the_menu(desk: Desk) -> None:
    await desk.feed(desk.updates.text(Updates.user(CASHIER, "kk"), "/start"))
    [greeting] = [
        m for m in desk.session.requests if isinstance(m, SendMessage) and m.chat_id == CASHIER
    ]
    assert "Сәлеметсіз бе" in greeting.text
    keyboard = greeting.reply_markup
    assert keyboard is not None and keyboard.keyboard[0][0].text == "💵 Толтыру"  # type: ignore[union-attr]


async def test_a_stranger_is_refused_by_id_and_nothing_reaches_allpay(desk: Desk) -> None:
    stranger = Updates.user(STRANGER)
    for text in ("/start", "/cashin", "77000000002", "5000"):
        reply = await desk.say(stranger, text)
        assert str(STRANGER) in (reply.text or "") and "only for the agent's cashiers" in (
            reply.text or ""
        )
    assert await desk.payments() == []


async def test_a_top_up_from_login_to_the_completed_card(desk: Desk) -> None:
    await desk.say(CASHIER_USER, "/cashin")
    prompt = await desk.say(CASHIER_USER, "+7 700 000 00 02")
    assert "Ахметов" in (prompt.text or "") and "not identified" in (prompt.text or "")
    card = await desk.say(CASHIER_USER, "5 000")
    assert (card.text or "").startswith("Check and confirm")
    assert "5\u202f000\u00a0₸" in (card.text or "") and "+7 700 000 00 02" in (card.text or "")
    await desk.press(CASHIER_USER, card, "Confirm")
    await desk.session.wait_for(lambda: (desk.session.last(CASHIER).text or "").startswith("✅"))
    done = desk.session.last(CASHIER)
    [(guid, status)] = await desk.payments()
    assert status == "COMPLETED"
    assert done.message_id == card.message_id and (done.text or "").startswith("✅")
    assert guid in (done.text or "")
    assert buttons(done) == [
        ("🧾 Receipt", f"r:{guid}"),
        ("🔁 Again for this client", f"ag:{guid}"),
    ]
    # The tap answered once, before the card shows the payment (the spinner stops first).
    [answer] = desk.session.answers()
    assert desk.session.requests.index(answer) < desk.session.requests.index(
        next(m for m in desk.session.requests if isinstance(m, EditMessageText))
    )


async def test_the_same_confirm_pressed_again_pays_once(desk: Desk) -> None:
    card = await _card(desk, "77000000001", "2000")
    await desk.press(CASHIER_USER, card, "Confirm")
    await desk.session.wait_for(lambda: (desk.session.last(CASHIER).text or "").startswith("✅"))
    await desk.feed(desk.updates.press(CASHIER_USER, card, "Confirm"))  # the stale card
    assert [status for _guid, status in await desk.payments()] == ["COMPLETED"]


async def test_bad_logins_and_amounts_are_explained_and_the_flow_goes_on(desk: Desk) -> None:
    await desk.say(CASHIER_USER, "/cashin")
    for bad in ("hello", "12345", "+1 202 555 0100"):
        reply = await desk.say(CASHIER_USER, bad)
        assert (reply.text or "").startswith("That is not a phone number"), bad
    await desk.say(CASHIER_USER, "77000000002")
    for bad, needle in {
        "0": "greater than zero",
        "5000.50": "Whole tenge",
        "five": "in digits",
    }.items():
        reply = await desk.say(CASHIER_USER, bad)
        assert needle in (reply.text or ""), (bad, reply.text)
    card = await desk.say(CASHIER_USER, "5000")
    assert (card.text or "").startswith("Check and confirm")
    assert await desk.payments() == []


async def test_a_top_up_is_not_started_in_a_group(desk: Desk) -> None:
    before = len(desk.session.requests)
    await desk.feed(desk.updates.text(CASHIER_USER, "/cashin", chat_id=SUPERVISOR_CHAT))
    said = [m for m in desk.session.requests[before:] if isinstance(m, SendMessage)]
    assert said and all("Enter the client" not in m.text for m in said)
    assert "private" in said[-1].text.lower() or "личн" in said[-1].text.lower(), said[-1].text


async def test_the_recording_session_refuses_bad_html_as_telegram_does(desk: Desk) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await desk.app.bot.send_message(CASHIER, "<b>unclosed")
    with pytest.raises(TelegramBadRequest, match="text is empty"):
        await desk.app.bot.send_message(CASHIER, "<b> </b>")


async def _card(desk: Desk, login: str, amount: str) -> Message:
    await desk.say(CASHIER_USER, "/cashin")
    await desk.say(CASHIER_USER, login)
    card = await desk.say(CASHIER_USER, amount)
    assert (card.text or "").startswith("Check and confirm"), card.text
    return card


async def test_the_clock_the_journal_goes_by_is_given_to_build_app(
    tmp_path: Path, sandbox_keys: Path, migrated_journal: Path
) -> None:
    """A top-up made on a clock three days behind is journaled three days ago."""
    behind = timedelta(days=3)
    async with desk_at(
        tmp_path, sandbox_keys, migrated_journal, clock=lambda: utcnow() - behind
    ) as desk:
        card = await _card(desk, "77000000002", "1000")
        await desk.press(CASHIER_USER, card, "Confirm")
        [(guid, _status)] = await desk.payments()
        payment = await desk.app.sender.get(guid)
    assert payment is not None
    assert abs(payment.created_at - (utcnow() - behind)) < timedelta(minutes=5)
