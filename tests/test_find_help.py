"""Long answers on a phone (issue 26, item 12, and /help of item 11): /find lists compactly
and pages like /history, receipt buttons name the top-up, /help is grouped and short and
explains one command — played through the Bot API stand-in and the sandbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiogram.utils.i18n import I18n

from bot.devtools.telegram import ChatMessage
from bot.domain.model import Payment, Status
from bot.telegram.history.keyboards import receipt_keyboard
from bot.telegram.runtime.i18n import locales_path
from tests.harness import (
    ADMIN,
    CASHIER,
    CASHIER_2,
    SUPERVISOR,
    Harness,
    english_words,
    seed_payment,
)

#: What a phone shows without scrolling far: a list page, a /help.
PHONE_LINES = 20
#: A receipt button's label fits a phone's button.
BUTTON_CHARS = 40
#: How the old receipt buttons were labelled: "🧾 7174fac6".
GUID_LABEL = re.compile(r"🧾 [0-9a-f]{8}$")
I18N = I18n(path=locales_path(), default_locale="en")


async def _turn(harness: Harness, user: dict[str, Any], page: ChatMessage, label: str) -> None:
    before = page.edits
    await harness.press(user, page, label)
    await harness.tg.wait_for(lambda: page.edits > before)


def _numbers(page: ChatMessage) -> list[str]:
    return [label for label, data in page.callback_buttons if data.startswith("hd:")]


# ---------------------------------------------------------------- /find


async def test_find_by_login_is_a_compact_numbered_list_with_paging(harness: Harness) -> None:
    journal = harness.journal
    made = [
        await seed_payment(journal, login="77000000002", amount=str(1000 + i)) for i in range(13)
    ]
    await seed_payment(journal, login="77000000003")  # another client: not listed
    await seed_payment(journal, login="77000000002", cashier_id=CASHIER_2)  # not this cashier's
    user = harness.user()
    mark = harness.tg.mark()
    page = await harness.say(user, "/find +7 700 000 00 02")
    # One message, one line per top-up: no ten full cards.
    assert (
        len(harness.tg.messages(CASHIER))
        == len([m for m in harness.tg.messages(CASHIER) if m.message_id <= mark]) + 1
    )
    lines = page.plain.splitlines()
    assert len(lines) <= PHONE_LINES, page.plain
    assert "page 1 of 2" in page.plain and "+7 700 000 00 02" in lines[0]
    assert _numbers(page) == [str(n) for n in range(1, 11)]
    assert [label for label, data in page.callback_buttons if not data.startswith("hd:")] == ["▶️"]
    assert "GUID" not in page.plain and "Attempts" not in page.plain
    await _turn(harness, user, page, "▶️")
    assert "page 2 of 2" in page.plain
    assert _numbers(page) == ["11", "12", "13"]
    assert [label for label, data in page.callback_buttons if not data.startswith("hd:")] == ["◀️"]
    # A number opens that top-up: its card and its receipt. The oldest is the 13th.
    mark = harness.tg.mark()
    await harness.press(user, page, "13")
    card = await harness.tg.wait_message(CASHIER, after=mark)
    assert made[0].guid in card.text and "1\u202f000\u00a0₸" in card.plain
    assert [label for label, _ in card.callback_buttons] == ["🧾 Receipt"]
    await _turn(harness, user, page, "◀️")
    assert "page 1 of 2" in page.plain and _numbers(page)[0] == "1"


async def test_find_for_a_supervisor_lists_everyones_with_the_cashier(harness: Harness) -> None:
    journal = harness.journal
    for cashier in (CASHIER, CASHIER_2, CASHIER):
        await seed_payment(journal, login="77000000002", cashier_id=cashier)
    await journal.set_user_name(CASHIER_2, "Aidos")
    page = await harness.say(harness.user(SUPERVISOR), "/find 77000000002")
    assert _numbers(page) == ["1", "2", "3"]
    assert f"Aidos ({CASHIER_2})" in page.plain
    assert "7700***0002" in page.plain  # masked, as in /history


async def test_find_one_match_still_opens_its_card(harness: Harness) -> None:
    payment = await seed_payment(harness.journal, login="77000000002", amount="4321")
    card = await harness.say(harness.user(), "/find 77000000002")
    assert card.text.startswith("✅") and payment.guid in card.text
    assert [label for label, _ in card.callback_buttons] == ["🧾 Receipt"]


async def test_find_in_russian(harness: Harness) -> None:
    for i in range(12):
        await seed_payment(harness.journal, login="77000000002", amount=str(2000 + i))
    user = harness.user(language_code="ru")
    page = await harness.say(user, "/find 77000000002")
    assert "1 из 2" in page.plain, page.plain
    assert not english_words(page.text), page.text


async def test_no_receipt_button_is_labelled_by_a_guid(harness: Harness) -> None:
    """The old /find gave one "🧾 7174fac6" button per completed top-up."""
    for amount in ("5000", "7000", "9000"):
        await seed_payment(harness.journal, login="77000000002", amount=amount)
    user = harness.user()
    mark = harness.tg.mark()
    await harness.say(user, "/find 77000000002")
    await harness.say(user, "/help")  # this user's updates are handled in order
    labels = [
        label
        for m in harness.tg.messages(CASHIER)
        if m.message_id > mark
        for label, _ in m.callback_buttons
    ]
    assert labels and not [label for label in labels if GUID_LABEL.match(label)], labels


def test_receipt_buttons_name_the_amount_and_the_client() -> None:
    base = _payment("{7174fac6-0000-4000-8000-000000000001}", "5000", "Aliya Bekova")
    long = _payment(
        "{8174fac6-0000-4000-8000-000000000002}",
        "1500000",
        "Konstantinopolskaya-Vasilevskaya Aleksandra Maksimilianovna",
    )
    nameless = _payment("{9174fac6-0000-4000-8000-000000000003}", "700", "")
    with I18N.context(), I18N.use_locale("en"):
        markup = receipt_keyboard([base, long, nameless])
        single = receipt_keyboard([base])
    assert markup is not None and single is not None
    labels = [row[0].text for row in markup.inline_keyboard]
    assert labels[0] == "🧾 5\u202f000\u00a0₸ · Aliya B."
    assert labels[1].startswith("🧾 1\u202f500\u202f000\u00a0₸ · Konstantin")
    assert labels[2] == "🧾 700\u00a0₸"
    assert all(len(label) <= BUTTON_CHARS for label in labels), labels
    assert [row[0].text for row in single.inline_keyboard] == ["🧾 Receipt"]


def _payment(guid: str, amount: str, name: str) -> Payment:
    moment = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    return Payment(
        guid=guid,
        draft_id=None,
        requester="agent",
        cashier_id=CASHIER,
        chat_id=CASHIER,
        message_id=None,
        login="77000000001",
        client_name=name,
        amount=Decimal(amount),
        lang="en",
        status=Status.COMPLETED,
        attempts=1,
        last_error=None,
        user_message=None,
        developer_message=None,
        reason=None,
        created_at=moment,
        updated_at=moment,
        next_attempt_at=moment,
        last_attempt_at=moment,
        final_at=moment,
        alerted_at=None,
        receipt_no=1,
        fee=Decimal(0),
    )


# ---------------------------------------------------------------- /help


def _commands(text: str) -> list[str]:
    return re.findall(r"(?<![\w/])/([a-z_]+)", text)


async def test_admin_help_is_grouped_and_short(harness: Harness) -> None:
    reply = await harness.say(harness.user(ADMIN), "/help")
    lines = reply.plain.splitlines()
    assert len(lines) <= PHONE_LINES, reply.plain
    for heading in ("Top-ups", "Cash", "Reports", "People"):
        assert any(line.startswith(heading) or f" {heading}" in line for line in lines), heading
    listed = set(_commands(reply.plain))
    assert {"cashin", "history", "find", "export", "audit", "add_cashier", "block"} <= listed
    assert "/help find" in reply.plain  # how to learn more about one command


async def test_each_role_help_lists_only_its_own_commands(harness: Harness) -> None:
    cashier = (await harness.say(harness.user(), "/help")).plain
    supervisor = (await harness.say(harness.user(SUPERVISOR), "/help")).plain
    assert not {"export", "audit", "add_cashier", "report"} & set(_commands(cashier))
    assert "People" not in cashier
    assert "export" in _commands(supervisor)
    assert not {"audit", "add_cashier", "block"} & set(_commands(supervisor))
    # Whose top-ups /history shows.
    assert "everyone's top-ups" in supervisor
    assert "everyone's" not in cashier and "your own top-ups" in cashier


async def test_help_for_one_command(harness: Harness) -> None:
    admin, user = harness.user(ADMIN), harness.user()
    for asked in ("/help find", "/help /find", "/help FIND"):
        reply = await harness.say(user, asked)
        assert reply.plain.startswith("/find"), reply.plain
        assert 2 <= len(reply.plain.splitlines()) <= 6, reply.plain
        assert "login" in reply.plain
    history = (await harness.say(user, "/help history")).plain
    assert "your own" in history.lower() and "everyone" not in history.lower()
    staff_history = (await harness.say(harness.user(SUPERVISOR), "/help history")).plain
    assert "everyone's top-ups" in staff_history.lower()
    export = (await harness.say(admin, "/help export")).plain
    assert export.startswith("/export") and "YYYY-MM-DD" in export
    unknown = await harness.say(user, "/help nosuch")
    assert unknown.plain == "There is no command /nosuch. Send /help for the list."
    # A command of another role: said whose it is, not explained.
    refused = await harness.say(user, "/help audit")
    assert refused.plain == "Only admins can use /audit."


async def test_help_in_russian(harness: Harness) -> None:
    admin = harness.user(ADMIN, "ru")
    reply = await harness.say(admin, "/help")
    assert len(reply.plain.splitlines()) <= PHONE_LINES, reply.plain
    assert "Пополнения" in reply.plain and "Сотрудники" in reply.plain, reply.plain
    assert not english_words(reply.text), english_words(reply.text)
    one = await harness.say(admin, "/help find")
    assert one.plain.startswith("/find") and not english_words(one.text), one.plain
    unknown = await harness.say(admin, "/help nosuch")
    assert unknown.plain == "Команды /nosuch нет. Список команд: /help."
    supervisor = await harness.say(harness.user(SUPERVISOR, "ru"), "/help")
    assert "пополнения всех кассиров" in supervisor.plain, supervisor.plain
