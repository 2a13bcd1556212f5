"""The cashier learns what blocks a top-up before any cash changes hands (issue 26, items 2,
3 and 4), played through the Bot API stand-in and the sandbox: a used-up daily limit at
/cashin, a client's used-up limit at the login, what is left in the amount prompt, a card
that says a supervisor decides first, and an approval nobody else could give refused at the
amount step."""

from __future__ import annotations

from typing import Any

from bot.allpay.protocol import PayStatus
from bot.devtools.telegram import ChatMessage
from tests.harness import ADMIN, CASHIER, SUPERVISOR, Harness, seed_payment


async def _login_reply(h: Harness, user: dict[str, Any], login: str) -> ChatMessage:
    """/cashin → the login; the bot's answer to the login."""
    await h.say(user, "/cashin")
    return await h.say(user, login)


async def _pay_requests(h: Harness) -> int:
    return sum(h.sandbox.stats.pay_guids.values())


# ---------------------------------------------------------------- item 4: limits used up


async def test_a_used_up_daily_count_is_refused_at_cashin(controlled: Any) -> None:
    async with controlled(cashier_daily_count=2) as h:
        await seed_payment(h.journal, amount="1000")
        await seed_payment(h.journal, amount="1000", status=PayStatus.PENDING)
        user = h.user()
        reply = await h.say(user, "/cashin")
        assert reply.text.startswith(
            "⛔ You have made your 2 top-ups for today: that is the daily limit."
        )
        assert "renews at 00:00" in reply.text
        assert "login" not in reply.text  # no login asked: nothing can follow it
        # Nothing waits for a login: a typed login is not looked up.
        asked = sum(h.sandbox.stats.requests.values())
        after = await h.say(user, "77000000002")
        assert sum(h.sandbox.stats.requests.values()) == asked
        assert "Enter the amount" not in after.text


async def test_a_used_up_daily_sum_is_refused_at_cashin(controlled: Any) -> None:
    # 50 ₸ left of 3 000 ₸: less than the smallest top-up (100 ₸), so nothing fits.
    async with controlled(cashier_daily_limit=3000) as h:
        await seed_payment(h.journal, amount="2950")
        reply = await h.say(h.user(), "/cashin")
        assert reply.text.startswith("⛔ Your daily limit of 3\u202f000\u00a0₸ is used up")
        assert "50\u00a0₸ left" in reply.text and "renews at 00:00" in reply.text


async def test_what_is_left_today_is_said_with_the_amount_prompt(controlled: Any) -> None:
    async with controlled(cashier_daily_limit=3000, client_daily_limit=10000) as h:
        await seed_payment(h.journal, amount="1000")
        reply = await _login_reply(h, h.user(), "77000000002")
        assert "Enter the amount" in reply.text
        # The tighter of the two: the cashier's 2 000 ₸ (the client has 10 000 ₸ left).
        assert (
            "Left today: 2\u202f000\u00a0₸ (your daily limit; it renews at 00:00)." in reply.plain
        )


async def test_a_client_whose_limit_is_used_up_is_refused_at_the_login(controlled: Any) -> None:
    async with controlled(client_daily_limit=5000) as h:
        await seed_payment(h.journal, login="77000000002", amount="5000", cashier_id=CASHIER)
        user = h.user()
        reply = await _login_reply(h, user, "77000000002")
        assert reply.text.startswith("⛔ This client's daily limit of 5\u202f000\u00a0₸ is used up")
        assert "renews at 00:00" in reply.text
        assert "Enter the amount" not in reply.text
        # Another client: the top-up goes on as usual.
        other = await h.say(user, "77000000001")
        assert "Enter the amount" in other.text


# ---------------------------------------------------------------- item 3: approval first


async def test_the_card_says_a_supervisor_decides_before_any_cash(controlled: Any) -> None:
    async with controlled(approval_threshold=100000) as h:
        card = await h.top_up_card(h.user(), "77000000002", "100000")
        text = card.plain
        decides = text.index("a supervisor approves it first")
        assert decides < text.index("Take 100\u202f000\u00a0₸")
        assert "give the cash back" in text
        assert card.callback_buttons[0][0] == ("🛂 Confirm and ask for approval")
        small = await h.top_up_card(h.user(), "77000000002", "99999")
        assert "supervisor" not in small.plain
        assert small.callback_buttons[0][0] == "✅ Confirm"


# ---------------------------------------------------------------- item 2: nobody to decide


async def test_with_nobody_else_to_approve_the_amount_step_says_so(controlled: Any) -> None:
    # The only supervisor tops up a large amount; no admin; the group chat is no decider.
    async with controlled(approval_threshold=100000, admin_ids=[]) as h:
        supervisor = h.user(SUPERVISOR)
        await h.say(supervisor, "/cashin")
        await h.say(supervisor, "77000000002")
        reply = await h.say(supervisor, "150000")
        assert reply.text.startswith("🛂 From 100\u202f000\u00a0₸ a top-up needs another person's")
        assert "Take" not in reply.text and not reply.callback_buttons
        # A smaller amount goes on at once.
        card = await h.say(supervisor, "99000")
        assert "Take 99\u202f000\u00a0₸" in card.plain
        assert await _pay_requests(h) == 0


async def test_an_admin_counts_as_another_decider(controlled: Any) -> None:
    async with controlled(approval_threshold=100000, admin_ids=[ADMIN]) as h:
        supervisor = h.user(SUPERVISOR)
        await h.say(supervisor, "/cashin")
        await h.say(supervisor, "77000000002")
        card = await h.say(supervisor, "150000")
        assert "a supervisor approves it first" in card.plain


async def test_a_cashier_limit_used_up_meanwhile_ends_the_top_up_at_the_login(
    controlled: Any,
) -> None:
    async with controlled(cashier_daily_limit=3000) as h:
        user = h.user()
        prompt = await h.say(user, "/cashin")
        assert "login" in prompt.text
        await seed_payment(h.journal, amount="2950")  # another of the cashier's top-ups lands
        reply = await h.say(user, "77000000002")
        assert reply.text.startswith("⛔ Your daily limit of 3\u202f000\u00a0₸ is used up")
        assert "another login" not in reply.text  # no client would fit: the top-up ends
        after = await h.say(user, "77000000001")  # not taken for a login any more
        assert "Enter the amount" not in after.text


async def test_the_last_other_decider_gone_before_the_tap_asks_nobody(controlled: Any) -> None:
    # The admin's own large top-up: the supervisor could approve it when the card came…
    async with controlled(approval_threshold=100000, admin_ids=[ADMIN]) as h:
        admin = h.user(ADMIN)
        card = await h.top_up_card(admin, "77000000002", "150000")
        assert "a supervisor approves it first" in card.plain
        # …and is removed before the tap: no request is made to expire unanswered.
        assert (await h.say(admin, f"/remove {SUPERVISOR}")).text.startswith("Removed")
        await h.press(admin, card, "Confirm")
        await h.tg.wait_for(lambda: card.text.startswith("🛂 From 100\u202f000\u00a0₸"))
        assert "give the cash back if you took it" in card.plain
        assert [label for label, _data in card.callback_buttons] == [
            "✏️ Change amount",
            "✖️ Cancel",
        ]
        assert await h.app.db.query("SELECT id FROM approvals") == []
        assert await _pay_requests(h) == 0
