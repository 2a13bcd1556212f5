"""/cancel says what it ended and names only top-ups still without Allpay's final word; a
cancelled card keeps no buttons; text typed at the card points to its buttons (issue 26,
items 1, 6 and 7) — played through the Bot API stand-in and the sandbox."""

from __future__ import annotations

from bot.telegram.cashin.texts import top_up_cancelled
from tests.harness import CASHIER, Harness


async def test_cancel_after_completed_top_ups_names_none_of_them(harness: Harness) -> None:
    user = harness.user()
    card = await harness.top_up_card(user, "77000000002", "5000")
    await harness.press(user, card, "Confirm")
    await harness.wait_status(CASHIER, card.message_id, "✅")
    assert (await harness.say(user, "/cancel")).text == "Nothing to cancel."
    await harness.say(user, "/cashin")
    await harness.say(user, "77000000002")  # the client is shown: no card, no cash asked
    reply = await harness.say(user, "/cancel")
    assert reply.text == "✖️ Top-up cancelled. Nothing was sent to Allpay."
    assert "completed" not in reply.text


async def test_cancel_names_a_top_up_still_waiting_for_allpay(controlled: object) -> None:
    async with controlled(pending_retry_min=600.0, pending_retry_max=600.0) as h:  # type: ignore[operator]
        user = h.user()
        _card, _status = await h.pending_top_up(user, "4000")
        reply = await h.say(user, "/cancel")
        assert reply.text.startswith("⚠️ Already sent to Allpay and still without its final")
        assert "4\u202f000\u00a0₸" in reply.text and "Nothing was sent" not in reply.text


async def test_a_cancelled_card_says_give_the_cash_back_and_loses_its_buttons(
    harness: Harness,
) -> None:
    user = harness.user()
    card = await harness.top_up_card(user, "77000000002", "3000")
    # Typed at the card: its buttons are the way on, not "I did not understand".
    hint = await harness.say(user, "yes")
    assert "card above" in hint.text and "Confirm" in hint.text
    reply = await harness.say(user, "/cancel")
    assert reply.text == (
        "✖️ Top-up cancelled. Nothing was sent to Allpay: give the cash back if you took it."
    )
    await harness.tg.wait_for(lambda: not card.buttons)
    with harness.app.i18n.context(), harness.app.i18n.use_locale("en"):
        assert card.text == top_up_cancelled()
    assert await harness.journal.payments_page(None, 0, 10) == ([], 0)


async def test_the_cancel_button_says_give_the_cash_back(harness: Harness) -> None:
    user = harness.user()
    card = await harness.top_up_card(user, "77000000002", "3000")
    await harness.press(user, card, "Cancel")
    await harness.tg.wait_for(lambda: "give the cash back" in card.text and not card.buttons)


async def test_with_a_fee_the_status_shows_amount_fee_and_cash(controlled: object) -> None:
    """Issue 26, item 6: the card said "Take 3 150 ₸"; its status says the same cash."""
    async with controlled(cashin_fee="150") as h:  # type: ignore[operator]
        user = h.user()
        card = await h.top_up_card(user, "77000000002", "3000")
        assert "Take 3\u202f150\u00a0₸" in card.plain
        await h.press(user, card, "Confirm")
        done = await h.wait_status(CASHIER, card.message_id, "✅")
        assert "Amount: 3\u202f000\u00a0₸" in done.plain
        assert "Fee: 150\u00a0₸" in done.plain and "Cash: 3\u202f150\u00a0₸" in done.plain
