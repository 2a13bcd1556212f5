"""The desk's menu button follows the roster (WEBAPP_URL): set for every active supervisor and
admin at start and when one is added, taken away when they are removed, blocked or made a
cashier — through the outbox and the pacer, against the Bot API stand-in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.devtools.telegram import FakeTelegram, Fault
from tests.harness import ADMIN, CASHIER, CASHIER_2, SUPERVISOR, Harness

DESK = "https://bot.example.kz/desk/"
NEWCOMER = 555
DEFAULT = {"type": "default"}


def desk_button(label: str = "📊 Desk", url: str = DESK) -> dict[str, Any]:
    return {"type": "web_app", "text": label, "web_app": {"url": url}}


def menu_calls(tg: FakeTelegram, since: int = 0) -> list[tuple[int, str]]:
    """(chat, button type) of every setChatMenuButton the bot made since call ``since``."""
    return [
        (int(params["chat_id"]), params["menu_button"]["type"])
        for method, params in tg.calls[since:]
        if method == "setChatMenuButton"
    ]


async def delivered(h: Harness) -> set[tuple[int, int]]:
    """Once no menu button item waits: (chat, failed) of each."""
    for _ in range(200):
        rows = await h.journal.db.read(
            lambda tx: tx.all(
                "SELECT chat_id, failed, done_at FROM outbox WHERE kind = ?", ("menu_button",)
            )
        )
        if all(r["done_at"] is not None for r in rows):
            return {(int(r["chat_id"]), int(r["failed"])) for r in rows}
        await asyncio.sleep(0.05)
    raise AssertionError("menu buttons still waiting")


async def until_button(tg: FakeTelegram, chat_id: int, button: dict[str, Any]) -> None:
    await tg.wait_for(lambda: tg.menu_button(chat_id) == button)


async def test_the_roster_sets_and_takes_the_desk_button(controlled: Any) -> None:
    async with controlled(webapp_url=DESK) as h:
        tg = h.tg
        # At start: the configured admin and supervisor, not the cashiers.
        await until_button(tg, ADMIN, desk_button())
        await until_button(tg, SUPERVISOR, desk_button())
        admin = h.user(ADMIN)

        await h.say(admin, f"/add_supervisor {NEWCOMER} Dana")
        await until_button(tg, NEWCOMER, desk_button())
        await h.say(admin, f"/remove {NEWCOMER}")
        await until_button(tg, NEWCOMER, DEFAULT)

        await h.say(admin, f"/block {SUPERVISOR}")
        await until_button(tg, SUPERVISOR, DEFAULT)
        await h.say(admin, f"/unblock {SUPERVISOR}")
        await until_button(tg, SUPERVISOR, desk_button())
        await h.say(admin, f"/add_cashier {SUPERVISOR}")  # made a cashier
        await until_button(tg, SUPERVISOR, DEFAULT)

        # A cashier added, blocked, removed: never a call for them.
        await h.say(admin, f"/add_cashier {NEWCOMER + 1}")
        await h.say(admin, f"/block {CASHIER}")
        await h.say(admin, f"/remove {CASHIER_2}")
        await h.say(admin, f"/add_supervisor {NEWCOMER + 2}")  # the outbox's next item
        await until_button(tg, NEWCOMER + 2, desk_button())
        cashiers = {CASHIER, CASHIER_2, NEWCOMER + 1}
        assert not [call for call in menu_calls(tg) if call[0] in cashiers]
        assert tg.menu_buttons.keys() == {ADMIN, NEWCOMER + 2}


async def test_the_label_speaks_the_persons_language(controlled: Any) -> None:
    async with controlled(webapp_url=DESK) as h:
        await until_button(h.tg, SUPERVISOR, desk_button())
        await h.app.people.set_language(SUPERVISOR, "ru")
        await until_button(h.tg, SUPERVISOR, desk_button("📊 Панель"))
        await h.app.people.set_language(SUPERVISOR, "kk")
        await until_button(h.tg, SUPERVISOR, desk_button("📊 Панель"))
        await h.app.people.set_language(CASHIER, "kk")  # no desk: no call
        await h.app.people.set_language(SUPERVISOR, "en")
        await until_button(h.tg, SUPERVISOR, desk_button())
        assert not [call for call in menu_calls(h.tg) if call[0] == CASHIER]


async def test_no_desk_no_calls(controlled: Any) -> None:
    async with controlled() as h:
        admin = h.user(ADMIN)
        await h.say(admin, f"/add_supervisor {NEWCOMER}")
        await h.say(admin, f"/block {SUPERVISOR}")
        await h.say(admin, f"/remove {NEWCOMER}")
        await h.app.people.set_language(ADMIN, "ru")
        assert await h.app.people.menu_buttons() == 0
        assert menu_calls(h.tg) == []
        assert (
            await h.journal.db.read(
                lambda tx: tx.value("SELECT COUNT(*) FROM outbox WHERE kind = 'menu_button'")
            )
            == 0
        )


async def test_an_outage_loses_no_button(controlled: Any) -> None:
    """Telegram's 5xx and 429 on setChatMenuButton: the outbox (and the pacer) try again
    until the button is there."""
    async with controlled(webapp_url=DESK) as h:
        await until_button(h.tg, SUPERVISOR, desk_button())
        h.tg.faults.append(Fault("setChatMenuButton", 502, "Bad Gateway", chat_id=NEWCOMER))
        h.tg.faults.append(
            Fault(
                "setChatMenuButton",
                429,
                "Too Many Requests: retry after 1",
                retry_after=1,
                chat_id=NEWCOMER,
            )
        )
        await h.say(h.user(ADMIN), f"/add_supervisor {NEWCOMER}")
        await h.tg.wait_for(lambda: h.tg.menu_button(NEWCOMER) == desk_button(), timeout=15)
        assert menu_calls(h.tg).count((NEWCOMER, "web_app")) == 3  # 502, 429, set
        assert not h.tg.faults


@pytest.mark.backends  # the outbox's last buttons are read in SQL
async def test_set_once_per_address_not_per_restart(controlled: Any) -> None:
    """A restart (or a storm of them) queues nothing more for those who have the button; a
    person Telegram refused (no chat with the bot yet) is tried again at the next start; a
    new address sets everyone's again."""
    async with controlled(webapp_url=DESK) as h:
        h.tg.faults.append(
            Fault("setChatMenuButton", 400, "Bad Request: chat not found", chat_id=SUPERVISOR)
        )
        await until_button(h.tg, ADMIN, desk_button())
        assert await delivered(h) == {(ADMIN, 0), (SUPERVISOR, 1)}
        assert h.tg.menu_button(SUPERVISOR) == DEFAULT
    for _ in range(2):
        async with controlled(webapp_url=DESK) as h:
            before = len(h.tg.calls)
            await until_button(h.tg, SUPERVISOR, desk_button())
            assert await h.app.people.menu_buttons() == 0
        assert menu_calls(h.tg, before) in ([(SUPERVISOR, "web_app")], [])
    assert menu_calls(h.tg).count((ADMIN, "web_app")) == 1  # once, whatever the restarts
    assert menu_calls(h.tg).count((SUPERVISOR, "web_app")) == 2  # refused, then set

    moved = "https://desk.example.kz/desk/"
    async with controlled(webapp_url=moved) as h:
        await until_button(h.tg, ADMIN, desk_button(url=moved))
        await until_button(h.tg, SUPERVISOR, desk_button(url=moved))


@pytest.mark.backends  # the outbox's last buttons are read in SQL
async def test_the_desk_turned_off_takes_its_buttons_away(controlled: Any) -> None:
    """Without WEBAPP_URL after a deployment with it: the buttons go back to Telegram's
    default once, and later starts make no call; the desk back sets them again."""
    async with controlled(webapp_url=DESK) as h:
        await until_button(h.tg, SUPERVISOR, desk_button())
        await until_button(h.tg, ADMIN, desk_button())
    async with controlled() as h:
        await until_button(h.tg, SUPERVISOR, DEFAULT)
        await until_button(h.tg, ADMIN, DEFAULT)
        assert await delivered(h) == {(ADMIN, 0), (SUPERVISOR, 0)}
    async with controlled() as h:
        before = len(h.tg.calls)
        assert await h.app.people.menu_buttons() == 0
        await h.say(h.user(ADMIN), f"/block {SUPERVISOR}")
        assert menu_calls(h.tg, before) == []
    async with controlled(webapp_url=DESK) as h:
        await until_button(h.tg, ADMIN, desk_button())
        assert h.tg.menu_button(SUPERVISOR) == DEFAULT  # blocked meanwhile


async def test_one_telegram_refused_gets_it_at_their_start(controlled: Any) -> None:
    """Telegram refuses a button for someone who never opened the bot: their /start in the
    private chat queues it again; a second /start, or anyone's who has it, queues nothing."""
    async with controlled(webapp_url=DESK) as h:
        h.tg.faults.append(
            Fault("setChatMenuButton", 400, "Bad Request: chat not found", chat_id=SUPERVISOR)
        )
        await until_button(h.tg, ADMIN, desk_button())
        assert await delivered(h) == {(ADMIN, 0), (SUPERVISOR, 1)}
        await h.say(h.user(SUPERVISOR), "/start")
        await until_button(h.tg, SUPERVISOR, desk_button())
        before = len(h.tg.calls)
        await h.say(h.user(SUPERVISOR), "/start")
        await h.say(h.user(ADMIN), "/start")
        await h.say(h.user(CASHIER), "/start")
        assert await delivered(h) == {(ADMIN, 0), (SUPERVISOR, 1), (SUPERVISOR, 0)}
        assert menu_calls(h.tg, before) == []


async def test_a_grant_refused_after_a_reset_is_set_again_at_their_start(controlled: Any) -> None:
    """Blocked (the button reset), unblocked (the desk's button, which Telegram refuses this
    time): the reset is not taken for the desk's button — their /start sets it."""
    async with controlled(webapp_url=DESK) as h:
        await until_button(h.tg, SUPERVISOR, desk_button())
        await h.say(h.user(ADMIN), f"/block {SUPERVISOR}")
        await until_button(h.tg, SUPERVISOR, DEFAULT)
        h.tg.faults.append(
            Fault("setChatMenuButton", 400, "Bad Request: chat not found", chat_id=SUPERVISOR)
        )
        await h.say(h.user(ADMIN), f"/unblock {SUPERVISOR}")
        await delivered(h)
        assert h.tg.menu_button(SUPERVISOR) == DEFAULT  # refused
        await h.say(h.user(SUPERVISOR), "/start")
        await until_button(h.tg, SUPERVISOR, desk_button())
