"""/history, /find, receipts and /today over real HTTP (Bot API stand-in, sandbox, SQLite)."""

from __future__ import annotations

from typing import Any

from bot.allpay.protocol import PayStatus
from bot.devtools.telegram import ChatMessage, FakeTelegram
from tests.harness import (
    CASHIER,
    CASHIER_2,
    SUPERVISOR,
    Harness,
    seed_payment,
)


async def _turn(harness: Harness, user: dict[str, Any], page: ChatMessage, label: str) -> None:
    """Press a paging button and wait until the page is edited."""
    before = page.edits
    await harness.press(user, page, label)
    await harness.tg.wait_for(lambda: page.edits > before)


async def test_history_pages_over_25_payments_show_3_pages_and_no_payment_twice(
    harness: Harness,
) -> None:
    journal = harness.journal
    made = {(await seed_payment(journal, amount=str(1000 + i))).guid[1:9] for i in range(25)}
    await seed_payment(journal, cashier_id=CASHIER_2)  # someone else's: never listed
    user = harness.user()
    page = await harness.say(user, "/history")
    seen: list[str] = []
    for number in (1, 2, 3):
        assert f"page {number} of 3" in page.text
        # Each entry opens with its own numbered button; the numbers run on across pages.
        details = [(label, data) for label, data in page.callback_buttons if data.startswith("hd:")]
        seen += [data[4:12] for _label, data in details]
        first = (number - 1) * 10 + 1
        assert [label for label, _ in details] == [
            str(n) for n in range(first, first + len(details))
        ]
        labels = [label for label, data in page.callback_buttons if not data.startswith("hd:")]
        assert labels == (["◀️"] if number > 1 else []) + (["▶️"] if number < 3 else [])
        if number == 2:
            # A payment made while paging does not shift the pages being read.
            await seed_payment(journal, amount="777")
        if number < 3:
            await _turn(harness, user, page, "▶️")
    assert len(seen) == 25 and set(seen) == made  # 10 + 10 + 5, none twice, none foreign
    await _turn(harness, user, page, "◀️")
    assert "page 2 of 3" in page.text


async def test_cashier_sees_own_history_supervisor_sees_everyone_named(harness: Harness) -> None:
    journal = harness.journal
    mine = await seed_payment(journal, amount="1111")
    theirs = await seed_payment(journal, cashier_id=CASHIER_2, amount="2222")
    await journal.set_user_name(CASHIER_2, "Aidos")
    cashier_view = await harness.say(harness.user(), "/history")
    assert _listed(cashier_view) == [mine.guid]
    # Their own clients, by name and login as people write it.
    assert "Иванова Анна · +7 700 000 00 01" in cashier_view.plain
    boss_view = await harness.say(harness.user(SUPERVISOR), "/history")
    assert set(_listed(boss_view)) == {mine.guid, theirs.guid}
    assert "7700***0001" in boss_view.text and "+7 700 000 00 01" not in boss_view.text
    assert f"Aidos ({CASHIER_2})" in boss_view.text


def _listed(page: ChatMessage) -> list[str]:
    """The GUIDs a /history page lists: one details button each."""
    return [data[3:] for _label, data in page.callback_buttons if data.startswith("hd:")]


async def test_find_by_guid_in_every_form_prefix_and_login(harness: Harness) -> None:
    journal = harness.journal
    payment = await seed_payment(journal, login="77000000002", amount="4321")
    await journal.set_user_name(CASHIER, "Dana")
    bare = payment.guid.strip("{}")
    user = harness.user()
    for query in (payment.guid, bare, bare.upper(), bare[:8], bare[:13], "+7 (700) 000-00-02"):
        card = await harness.say(user, f"/find {query}")
        assert payment.guid in card.text, query
        assert "4\u202f321\u00a0₸" in card.text and "Dana" in card.text
        assert "Attempts" not in card.text  # issue 26, item 11: not a cashier's to read
        assert card.text.startswith("✅")
        assert [label for label, _ in card.callback_buttons] == ["🧾 Receipt"]


async def test_a_cashier_cannot_find_another_cashiers_payment(harness: Harness) -> None:
    theirs = await seed_payment(harness.journal, cashier_id=CASHIER_2)
    missing = "{0badc0de-0000-4000-8000-000000000000}"
    user = harness.user()
    answer_theirs = await harness.say(user, f"/find {theirs.guid}")
    answer_missing = await harness.say(user, f"/find {missing}")
    assert answer_theirs.text == answer_missing.text.replace(missing, theirs.guid)
    assert answer_theirs.text.startswith("Nothing found")
    # By login too: their client's payments stay hidden from this cashier.
    assert (await harness.say(user, "/find 77000000001")).text.startswith("Nothing found")
    # A supervisor finds it.
    boss = await harness.say(harness.user(SUPERVISOR), f"/find {theirs.guid}")
    assert theirs.guid in boss.text


async def test_find_rejects_what_is_not_a_guid_or_login(harness: Harness) -> None:
    user = harness.user()
    for query in ("{zzzzzzzz-1234}", "1a2b3c", "hello", "1a2b3c4g"):
        reply = await harness.say(user, f"/find {query}")
        assert "neither a GUID" in reply.text, query
    usage = await harness.say(user, "/find")
    assert usage.text.startswith("Usage: /find")


async def test_receipt_for_a_completed_top_up(controlled: Any, telegram: FakeTelegram) -> None:
    async with controlled(agent_name="ТОО «Касса Плюс»", agent_bin="123456789012") as h:
        user = h.user()
        card = await h.top_up_card(user, "77000000001", "2500")
        await h.press(user, card, "Confirm")
        done = await h.wait_status(CASHIER, card.message_id, "✅")
        mark = telegram.mark()
        await h.press(user, done, "Receipt")
        receipt = await telegram.wait_message(CASHIER, after=mark)
        [payment] = (await h.journal.payments_page(None, 0, 10))[0]
        assert receipt.plain.startswith("🧾 Receipt No. 000001")
        for part in (
            "Agent: ТОО «Касса Плюс»",
            "Agent's BIN: 123456789012",
            "Issuer: Allpay (example)",  # the sandbox, issuer unset: marked, never invented
            "Cash accepted: 2\u202f500\u00a0₸",
            "E-money credited: 2\u202f500\u00a0₸",
            "Wallet: +7 700 000 00 01",
            payment.guid,
        ):
            assert part in receipt.plain, part
        # A receipt button for a payment that is not completed, or someone else's: refused.
        declined = await seed_payment(h.journal, status=PayStatus.DECLINED)
        theirs = await seed_payment(h.journal, cashier_id=CASHIER_2)
        for guid in (declined.guid, theirs.guid):
            before = len(telegram.callback_answers)
            telegram.press(user, done, f"r:{guid}")
            await telegram.wait_for(lambda b=before: len(telegram.callback_answers) > b)  # type: ignore[misc]
            answer = list(telegram.callback_answers.values())[-1]
            assert "only for a completed top-up" in answer["text"]
        # This user's updates are handled in order: once /help is answered, a receipt sent
        # for the presses above would be in the chat already.
        help_reply = await h.say(user, "/help")
        later = [m for m in telegram.messages(CASHIER) if m.message_id > receipt.message_id]
        assert later == [help_reply]  # no receipt was sent for them


async def test_today_for_cashier_and_per_cashier_for_supervisor(harness: Harness) -> None:
    journal = harness.journal
    await seed_payment(journal, amount="1000")
    await seed_payment(journal, amount="500", status=PayStatus.DECLINED)
    await seed_payment(journal, cashier_id=CASHIER_2, amount="3000")
    mine = await harness.say(harness.user(), "/today")
    assert "✅ completed: 1 · 1\u202f000\u00a0₸" in mine.text
    assert "❌ declined: 1 · 500\u00a0₸" in mine.text
    assert "3\u202f000" not in mine.text
    boss = await harness.say(harness.user(SUPERVISOR), "/today")
    assert f"User{CASHIER} ({CASHIER})" in boss.text  # named from Telegram on first contact
    assert str(CASHIER_2) in boss.text
    total = boss.text.split("Total")[1]
    assert "✅ completed: 2 · 4\u202f000\u00a0₸" in total and "❌ declined: 1 · 500\u00a0₸" in total
