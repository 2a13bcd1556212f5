"""Money controls over real HTTP: daily limits, supervisor approval, blocking."""

from __future__ import annotations

from typing import Any

import pytest

from bot.allpay.protocol import PayStatus
from bot.devtools.telegram import ChatMessage
from bot.telegram.approvals.callbacks import ApprovalCb
from tests.harness import (
    ADMIN,
    CASHIER,
    CASHIER_2,
    SUPERVISOR,
    SUPERVISOR_CHAT,
    Harness,
    seed_payment,
)


async def _audit_actions(h: Harness) -> list[str]:
    return [e.action for e in await h.journal.audit_log(200)]


async def _amount_reply(h: Harness, user: dict[str, Any], login: str, amount: str) -> ChatMessage:
    """/cashin → login → amount; the bot's answer to the amount."""
    chat = user["id"]
    mark = h.tg.mark()
    h.tg.send_text(user, "/cashin")
    await h.tg.wait_message(chat, lambda m: "login" in m.text, after=mark)
    mark = h.tg.mark()
    h.tg.send_text(user, login)
    await h.tg.wait_message(chat, lambda m: "Enter the amount" in m.text, after=mark)
    mark = h.tg.mark()
    h.tg.send_text(user, amount)
    return await h.tg.wait_message(chat, after=mark)


async def _pay_requests(h: Harness) -> int:
    return sum(h.sandbox.stats.pay_guids.values())


# ---------------------------------------------------------------- limits


async def test_cashier_limits_are_checked_when_the_amount_is_typed(controlled: Any) -> None:
    async with controlled(cashier_daily_limit=3000, cashier_daily_count=2) as h:
        await seed_payment(h.journal, amount="2500")
        await seed_payment(h.journal, amount="900", status=PayStatus.DECLINED)  # not counted
        user = h.user()
        reply = await _amount_reply(h, user, "77000000002", "1000")
        assert reply.text.startswith(
            "⛔ Over your daily limit of 3\u202f000\u00a0₸: 500\u00a0₸ left today."
        )
        assert "smaller amount" in reply.text and not reply.buttons
        card = await h.say(user, "500")  # fits: the card appears
        assert card.text.startswith("Check and confirm")
        await h.press(user, card, "Confirm")
        await h.wait_status(CASHIER, card.message_id, "✅")
        # Count: 2 of 2 used (the declined one does not count): refused at /cashin now,
        # before a login is typed (issue 26, item 4; tests/test_cashin_26.py).
        reply = await h.say(user, "/cashin")
        assert reply.text.startswith(
            "⛔ You have made your 2 top-ups for today: that is the daily limit."
        )
        assert await _pay_requests(h) == 1
        assert "limit.cashier_count" not in await _audit_actions(h)  # typed, not confirmed


@pytest.mark.backends  # storage is the point here too
async def test_concurrent_confirms_over_the_client_limit_send_exactly_one(
    controlled: Any,
) -> None:
    async with controlled(client_daily_limit=5000) as h:
        first, second = h.user(CASHIER), h.user(CASHIER_2)
        card_1 = await h.top_up_card(first, "77000000002", "3000")
        card_2 = await h.top_up_card(second, "77000000002", "3000")
        answers = len(h.tg.callback_answers)
        h.tg.press_button(first, card_1, "Confirm")  # both taps are in Telegram's queue
        h.tg.press_button(second, card_2, "Confirm")  # before the bot sees either
        await h.tg.wait_for(lambda: len(h.tg.callback_answers) >= answers + 2)
        # Whichever tap the database took first is paid; the other is refused.
        await h.tg.wait_for(lambda: card_1.text.startswith("⛔") or card_2.text.startswith("⛔"))
        refused_card, paid_card = (
            (card_1, card_2) if card_1.text.startswith("⛔") else (card_2, card_1)
        )
        refused_user = first if refused_card is card_1 else second
        assert (
            "client's daily limit of 5\u202f000\u00a0₸: 2\u202f000\u00a0₸ left" in refused_card.text
        )
        assert [label for label, _ in refused_card.callback_buttons] == [
            "✏️ Change amount",
            "✖️ Cancel",
        ]
        await h.wait_status(paid_card.chat_id, paid_card.message_id, "✅")
        assert await _pay_requests(h) == 1
        assert len(await h.sandbox.ledger.all()) == 1
        assert "limit.client_sum" in await _audit_actions(h)
        # The refused card may still change its amount to one that fits.
        await h.press(refused_user, refused_card, "Change amount")
        await h.tg.wait_for(lambda: "Enter the amount" in refused_card.text)
        card = await h.say(refused_user, "2000")
        await h.press(refused_user, card, "Confirm")
        await h.wait_status(refused_card.chat_id, card.message_id, "✅")


# ---------------------------------------------------------------- approval


async def _cards(h: Harness, chat_id: int) -> list[ChatMessage]:
    """Supervisor cards in a chat, in any state (their head follows it): they name the cashier."""
    return [m for m in h.tg.messages(chat_id) if "Cashier: " in m.plain]


async def _request(h: Harness, user: dict[str, Any], amount: str = "150000") -> ChatMessage:
    card = await h.top_up_card(user, "77000000001", amount)
    await h.press(user, card, "Confirm")
    await h.tg.wait_for(lambda: card.text.startswith("🛂"))
    return card


async def test_above_the_threshold_nothing_is_sent_until_approved_once(controlled: Any) -> None:
    async with controlled(approval_threshold=100000) as h:
        cashier = h.user()
        small = await h.top_up_card(cashier, "77000000002", "99999")  # below: as usual
        await h.press(cashier, small, "Confirm")
        await h.wait_status(CASHIER, small.message_id, "✅")
        before = await _pay_requests(h)

        card = await _request(h, cashier)
        assert "supervisor's approval" in card.text
        # Its one button takes the request back (no confirm, change or cancel any more).
        assert [label for label, _data in card.callback_buttons] == ["↩️ Withdraw request"]
        await h.tg.wait_for(lambda: bool(h.tg.messages(SUPERVISOR)))
        [private] = await _cards(h, SUPERVISOR)
        await h.tg.wait_for(lambda: bool(h.tg.messages(SUPERVISOR_CHAT)))
        [group] = await _cards(h, SUPERVISOR_CHAT)
        assert "7700***0001" in group.text and "77000000001" not in group.text
        assert [label for label, _ in private.callback_buttons] == ["✅ Approve", "❌ Reject"]
        assert await _pay_requests(h) == before  # nothing reached Allpay

        # Two supervisors approve at once: the first wins, one payment.
        answers = len(h.tg.callback_answers)
        h.tg.press_button(h.user(SUPERVISOR), private, "Approve")
        h.tg.press_button(h.user(ADMIN), group, "Approve")
        await h.tg.wait_for(lambda: len(h.tg.callback_answers) >= answers + 2)
        texts = sorted(a.get("text", "") for a in list(h.tg.callback_answers.values())[-2:])
        assert texts[0].startswith("Already decided: approved by")
        assert texts[1] == "Approved: sending to Allpay."
        await h.wait_status(CASHIER, card.message_id, "✅")
        assert await _pay_requests(h) >= before + 1
        ledger = await h.sandbox.ledger.all()
        assert [r.amount for r in ledger].count(150000) == 1
        await h.tg.wait_for(lambda: not private.buttons and not group.buttons)
        assert "✔️ Approved by" in private.text and "✔️ Approved by" in group.text
        actions = await _audit_actions(h)
        assert actions.count("approval.approved") == 1 and "approval.requested" in actions


async def test_reject_with_a_reason_sends_nothing(controlled: Any) -> None:
    async with controlled(approval_threshold=100000) as h:
        cashier = h.user()
        card = await _request(h, cashier)
        await h.tg.wait_for(lambda: bool(h.tg.messages(SUPERVISOR)))
        [private] = await _cards(h, SUPERVISOR)
        boss = h.user(SUPERVISOR)
        approve_data = private.callback_buttons[0][1]
        mark = h.tg.mark()
        await h.press(boss, private, "Reject")
        ask = await h.tg.wait_message(SUPERVISOR, lambda m: "Reason" in m.text, after=mark)
        assert "/skip" in ask.text
        await h.tg.wait_for(lambda: card.text.startswith("🚫"))
        assert (
            "Nothing was sent to Allpay: give back 150\u202f000\u00a0₸ to the client." in card.text
        )
        thanks = await h.say(boss, "ID does not match")
        assert "cashier will see the reason" in thanks.text
        await h.tg.wait_for(lambda: "Reason: ID does not match" in card.text)
        assert await _pay_requests(h) == 0
        # Pressing again, or approving after the rejection: nothing changes.
        answers = len(h.tg.callback_answers)
        h.tg.press(boss, private, approve_data)  # the old card's button, as a slow phone sends it
        await h.tg.wait_for(lambda: len(h.tg.callback_answers) > answers)
        last = list(h.tg.callback_answers.values())[-1]
        assert last["text"].startswith("Already decided: rejected by")
        assert await _pay_requests(h) == 0
        assert "approval.rejected" in await _audit_actions(h)


async def test_no_decision_in_time_expires_and_sends_nothing(controlled: Any) -> None:
    async with controlled(approval_threshold=100000, approval_timeout=0.3) as h:
        card = await _request(h, h.user())
        [requested] = [e for e in await h.journal.audit_log() if e.action == "approval.requested"]
        assert requested.subject is not None
        late_tap = ApprovalCb(action="y", approval_id=requested.subject).pack()
        await h.tg.wait_for(lambda: card.text.startswith("⌛"))
        assert "expired" in card.text and "give back 150\u202f000\u00a0₸" in card.text
        await h.tg.wait_for(lambda: bool(h.tg.messages(SUPERVISOR)))
        [private] = await _cards(h, SUPERVISOR)
        await h.tg.wait_for(lambda: "⌛ Expired" in private.text and not private.buttons)
        assert await h.app.desk.waiting() == []
        answers = len(h.tg.callback_answers)
        h.tg.press(h.user(SUPERVISOR), private, late_tap)  # a tap that arrives after expiry
        await h.tg.wait_for(lambda: len(h.tg.callback_answers) > answers)
        assert list(h.tg.callback_answers.values())[-1]["text"] == "Already decided: expired"
        assert await _pay_requests(h) == 0
        assert "approval.expired" in await _audit_actions(h)


async def test_self_approval_and_non_supervisors_are_refused(controlled: Any) -> None:
    async with controlled(approval_threshold=100000) as h:
        own = await _request(h, h.user(SUPERVISOR))  # a supervisor topping up themselves
        await h.tg.wait_for(lambda: len(h.tg.messages(SUPERVISOR_CHAT)) >= 1)
        [group] = await _cards(h, SUPERVISOR_CHAT)
        await h.press(h.user(SUPERVISOR), group, "Approve")
        answer = list(h.tg.callback_answers.values())[-1]
        assert answer["text"] == "You cannot approve your own top-up." and answer["show_alert"]
        await h.press(h.user(CASHIER), group, "Approve")
        answer = list(h.tg.callback_answers.values())[-1]
        assert answer["text"] == "Only supervisors and admins can decide."
        assert own.text.startswith("🛂") and group.buttons  # still waiting
        assert await _pay_requests(h) == 0
        assert "approval.self_refused" in await _audit_actions(h)
        await h.press(h.user(ADMIN), group, "Approve")  # an admin may
        await h.wait_status(SUPERVISOR, own.message_id, "✅")


# ---------------------------------------------------------------- blocking


async def test_a_blocked_cashier_cannot_confirm_and_pending_payments_still_resolve(
    controlled: Any,
) -> None:
    async with controlled(
        approval_threshold=100000, pending_retry_min=0.5, pending_retry_max=1
    ) as h:
        cashier, admin = h.user(), h.user(ADMIN)
        paid = await h.top_up_card(cashier, "77000000001", "1000")  # first answer: PENDING
        await h.press(cashier, paid, "Confirm")
        await h.wait_status(CASHIER, paid.message_id, "⏳")
        waiting = await _request(h, cashier)
        open_card = await h.top_up_card(cashier, "77000000002", "2000")

        reply = await h.say(admin, f"/block {CASHIER}")
        assert reply.text.startswith(f"Blocked {CASHIER}")
        await h.press(cashier, open_card, "Confirm")
        refusal = list(h.tg.callback_answers.values())[-1]
        assert "blocked" in refusal["text"]
        refused = await h.say(cashier, "/cashin")
        assert "blocked" in refused.text
        await h.tg.wait_for(lambda: waiting.text.startswith("🚫"))  # the approval is cancelled
        # The payment already sent reaches its final status anyway.
        await h.wait_status(CASHIER, paid.message_id, "✅")
        statuses = [p.status.value for p in (await h.journal.payments_page(None, 0, 10))[0]]
        assert statuses == ["COMPLETED"]
        assert [r.amount for r in await h.sandbox.ledger.all()] == [1000]
        actions = await _audit_actions(h)
        assert "roster.blocked" in actions and "approval.cancelled" in actions

        assert (await h.say(admin, f"/unblock {CASHIER}")).text.startswith("Unblocked")
        again = (await h.say(admin, f"/unblock {CASHIER}")).text
        assert again == f"{CASHIER} is not blocked; nothing changed."
        assert "Hello" in (await h.say(cashier, "/start")).text
        assert "yourself" in (await h.say(admin, f"/block {ADMIN}")).text
        assert "Only admins" in (await h.say(cashier, f"/block {CASHIER_2}")).text


async def test_a_fast_decision_is_never_overwritten_by_the_waiting_notice(
    controlled: Any,
) -> None:
    """Telegram is slow to edit the cashier's card while a supervisor approves at once: the
    card ends at the payment's status, never at a late "waiting for approval". (The card is
    written only by the outbox, in the order things happened.)"""
    async with controlled(approval_threshold=100000) as h:
        cashier = h.user()
        card = await h.top_up_card(cashier, "77000000002", "100000")
        h.tg.hold("editMessageText")
        await h.press(cashier, card, "Confirm")
        # The outbox is stuck on the cashier's "waiting" edit: the request is journaled.
        await h.tg.wait_for(lambda: any(m == "editMessageText" for m, _ in h.tg.calls))
        waiting = await h.app.desk.waiting()
        result = await h.app.desk.decide(waiting[0].id, SUPERVISOR, approve=True)
        assert result.payment is not None
        await h.sandbox.wait_for(lambda s: bool(s.pay_guids))
        h.tg.release("editMessageText")
        await h.wait_status(CASHIER, card.message_id, "✅")
        # The supervisors' ✅ notice is queued after the cashier's status: once it is out,
        # everything before it has been delivered, in order.
        await h.tg.wait_message(SUPERVISOR_CHAT, lambda m: m.text.startswith("✅"))
        assert card.text.startswith("✅"), card.text


async def test_a_cashier_withdraws_a_waiting_request_and_it_can_never_be_approved(
    controlled: Any,
) -> None:
    """The waiting card offers "Withdraw request"; /pending lists the request with its age
    until then; withdrawn, every supervisor card says who withdrew it, and a late approve
    pays nothing."""
    async with controlled(approval_threshold=100000) as h:
        cashier = h.user()
        card = await _request(h, cashier)
        await h.tg.wait_for(lambda: "Withdraw request" in str(card.callback_buttons))
        await h.tg.wait_for(lambda: any(m.buttons for m in h.tg.messages(SUPERVISOR)))
        [supervisor_card] = await _cards(h, SUPERVISOR)
        listed = await h.say(h.user(SUPERVISOR), "/pending")
        assert listed.text.startswith("🛂 Approval requests waiting: 1")
        assert "150\u202f000\u00a0₸" in listed.text and "waiting 0 min" in listed.text
        [approve] = [d for label, d in supervisor_card.callback_buttons if "Approve" in label]
        await h.press(cashier, card, "Withdraw request")
        answer = list(h.tg.callback_answers.values())[-1]
        assert answer["text"] == "Request withdrawn. Nothing was sent to Allpay."
        await h.tg.wait_for(lambda: card.text.startswith("🚫") and not card.buttons)
        await h.tg.wait_for(lambda: "Withdrawn by" in supervisor_card.text)
        assert f"Withdrawn by User{CASHIER}" in supervisor_card.text  # who withdrew it
        answers = len(h.tg.callback_answers)
        h.tg.press(h.user(SUPERVISOR), supervisor_card, approve)  # a late approve
        await h.tg.wait_for(lambda: len(h.tg.callback_answers) > answers)
        assert "Already decided" in str(list(h.tg.callback_answers.values())[-1]["text"])
        assert await h.sandbox.ledger.all() == []
        assert "approval.cancelled" in await _audit_actions(h)
        assert "No top-ups are waiting" in (await h.say(h.user(SUPERVISOR), "/pending")).text
