"""Approvals a supervisor can decide on, and cards that tell the truth (issue 26, items 2, 5,
6 and 13) — played through the Bot API stand-in and the sandbox.

* Item 2: admins get cards in their own chat and decide like supervisors; the requester's
  own chat shows no ✅/❌; every waiting card says when it expires; the deciders get one
  reminder before it does, once even across a restart.
* Item 5: the supervisors' card and the cashier's notice say what the request is now.
* Item 6: the fee is kept on the request; a request that ends without a top-up names the
  whole cash to give back.
* Item 13: the card shows whether the wallet is identified and today's totals; common
  rejection reasons are buttons, told to the cashier in the cashier's language.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.devtools.telegram import ChatMessage
from tests.harness import (
    ADMIN,
    CASHIER,
    SUPERVISOR,
    SUPERVISOR_CHAT,
    Harness,
    seed_payment,
)

NBSP = "\u202f"  # format_tenge's thin no-break space


def _approval_messages(h: Harness, chat_id: int) -> list[ChatMessage]:
    """Supervisor cards in a chat: messages that name the requesting cashier."""
    return [m for m in h.tg.messages(chat_id) if "Cashier: " in m.plain]


def _live(message: ChatMessage) -> bool:
    return any(data.startswith(("ap:y", "ap:n")) for _label, data in message.callback_buttons)


async def _request(
    h: Harness,
    user: dict[str, Any],
    amount: str = "150000",
    login: str = "77000000001",
    confirm: str = "Confirm",
) -> ChatMessage:
    """A top-up above the threshold, confirmed: the cashier's card turned into the notice."""
    card = await h.top_up_card(user, login, amount)
    await h.press(user, card, confirm)
    await h.tg.wait_for(lambda: card.text.startswith("🛂"))
    return card


async def _card_in(h: Harness, chat_id: int) -> ChatMessage:
    await h.tg.wait_for(lambda: any(_live(m) for m in _approval_messages(h, chat_id)))
    return [m for m in _approval_messages(h, chat_id) if _live(m)][-1]


async def _outbox_idle(h: Harness) -> None:
    """Everything queued so far is delivered (the journal's outbox has nothing left)."""

    async def left() -> int:
        rows = await h.app.db.query("SELECT COUNT(*) AS n FROM outbox WHERE done_at IS NULL")
        return int(rows[0]["n"])

    async with asyncio.timeout(10):
        while await left():  # noqa: ASYNC110 - the outbox marks rows done as it delivers
            await asyncio.sleep(0.05)


# ---------------------------------------------------------------- item 2


async def test_admins_decide_from_their_own_chat_and_nobody_sees_buttons_of_their_own(
    controlled: Any,
) -> None:
    async with controlled(approval_threshold=100000) as h:
        own = await _request(h, h.user(SUPERVISOR))  # a supervisor's own large top-up
        # The admin gets a card with the buttons in their private chat...
        admin_card = await _card_in(h, ADMIN)
        group = await _card_in(h, SUPERVISOR_CHAT)
        await _outbox_idle(h)
        # ...and the requester sees none they may not press: only their own notice.
        assert not any(_live(m) for m in h.tg.messages(SUPERVISOR))
        assert [label for label, _ in own.callback_buttons] == ["↩️ Withdraw request"]
        # Every waiting card says when it expires.
        assert "Expires:" in admin_card.plain and "Expires:" in group.plain
        assert "Expires:" in own.plain
        # In the group, the requester's press is answered with the reason.
        await h.press(h.user(SUPERVISOR), group, "Approve")
        answer = list(h.tg.callback_answers.values())[-1]
        assert answer["text"] == "You cannot approve your own top-up."
        # The admin decides from the private card.
        await h.press(h.user(ADMIN), admin_card, "Approve")
        await h.wait_status(SUPERVISOR, own.message_id, "✅")
        await h.tg.wait_for(lambda: not admin_card.buttons and not group.buttons)


async def test_others_can_decide_counts_people_not_group_chats(controlled: Any) -> None:
    async with controlled(supervisor_ids=[]) as h:  # the group chat stays configured

        async def others_can_decide(cashier_id: int) -> bool:
            desk = h.app.desk
            return await h.app.db.read(lambda tx: desk.others_can_decide_in(tx, cashier_id))

        assert await others_can_decide(CASHIER)
        assert not await others_can_decide(ADMIN)  # only the admin: themselves
        reply = await h.say(h.user(ADMIN), f"/add_supervisor {SUPERVISOR} Second")
        assert str(SUPERVISOR) in reply.plain
        assert await others_can_decide(ADMIN)
        assert sorted(await h.app.db.read(h.app.people.roster.deciders)) == [ADMIN, SUPERVISOR]


async def test_deciders_get_one_reminder_before_expiry_even_across_a_restart(
    controlled: Any,
) -> None:
    # Reminded at 10 s (a third left), expired at 15 s: 5 s for a slow outbox either side.
    settings = {"approval_threshold": 100000, "approval_timeout": 15}

    def reminders(h: Harness, chat_id: int) -> list[ChatMessage]:
        return [m for m in h.tg.messages(chat_id) if m.plain.startswith("⏰")]

    async with controlled(**settings) as h:
        card = await _request(h, h.user())
        chats = (SUPERVISOR, ADMIN, SUPERVISOR_CHAT)
        await h.tg.wait_for(lambda: all(reminders(h, chat) for chat in chats), timeout=15)
        assert not reminders(h, CASHIER)  # the cashier is not a decider
        [reminder] = reminders(h, SUPERVISOR)
        assert "150" + NBSP + "000\u00a0₸" in reminder.plain and "expires" in reminder.plain
        rows = await h.app.db.query("SELECT reminded_at FROM approvals")
        assert rows[0]["reminded_at"] is not None  # recorded with the queued reminders
    async with controlled(**settings) as h:  # a restart before the expiry
        await h.tg.wait_for(lambda: card.text.startswith("⌛"), timeout=15)
        await _outbox_idle(h)
        assert [len(reminders(h, chat)) for chat in chats] == [1, 1, 1]


# ---------------------------------------------------------------- item 5


async def test_every_card_says_what_the_request_is_now(controlled: Any) -> None:
    async with controlled(approval_threshold=100000, approval_timeout=30) as h:
        cashier, boss = h.user(), h.user(SUPERVISOR)

        async def decided(press: str | None) -> tuple[ChatMessage, ChatMessage]:
            notice = await _request(h, cashier)
            card = await _card_in(h, SUPERVISOR)
            if press == "withdraw":
                await h.press(cashier, notice, "Withdraw request")
            elif press is not None:
                await h.press(boss, card, press)
            await h.tg.wait_for(lambda: not card.buttons)
            return notice, card

        notice, card = await decided("Approve")
        assert card.plain.startswith("✔️ Approved by User300"), card.plain
        notice, card = await decided("Reject")
        await h.say(boss, "/skip")
        assert card.plain.startswith("🚫 Rejected by User300"), card.plain
        await h.tg.wait_for(lambda: notice.text.startswith("🚫"))
        notice, card = await decided("withdraw")
        assert card.plain.startswith("↩️ Withdrawn by User200"), card.plain
        await h.tg.wait_for(lambda: notice.text.startswith("🚫") and not notice.buttons)
        for text in (card.plain, notice.plain):
            assert "Approval needed" not in text and "Expires" not in text
            assert "decision will appear here" not in text


async def test_an_expired_and_an_over_limit_card_say_so(controlled: Any) -> None:
    async with controlled(approval_threshold=100000, approval_timeout=6) as h:
        notice = await _request(h, h.user())
        card = await _card_in(h, SUPERVISOR)
        await h.tg.wait_for(lambda: not card.buttons, timeout=10)
        assert card.plain.startswith("⌛ Expired without a decision"), card.plain
        await h.tg.wait_for(lambda: notice.text.startswith("⌛"))
        assert "Approval needed" not in card.plain and "Expires" not in notice.plain
    async with controlled(approval_threshold=100000, client_daily_limit=200000) as h:
        await _request(h, h.user())
        card = await _card_in(h, SUPERVISOR)
        await seed_payment(h.journal, amount="100000")  # the day fills meanwhile
        await h.press(h.user(SUPERVISOR), card, "Approve")
        await h.tg.wait_for(lambda: not card.buttons)
        assert card.plain.startswith("⛔ Not approved"), card.plain
        assert "Approval needed" not in card.plain


# ---------------------------------------------------------------- item 6


async def test_the_fee_is_kept_and_a_request_that_ends_names_the_whole_cash(
    controlled: Any,
) -> None:
    async with controlled(approval_threshold=100000, cashin_fee="150") as h:
        cashier, boss = h.user(), h.user(SUPERVISOR)
        notice = await _request(h, cashier)  # 150 000 ₸ and its fee
        card = await _card_in(h, SUPERVISOR)
        for text in (card.plain, notice.plain):
            assert f"Amount: 150{NBSP}000\u00a0₸" in text, text
            assert "Fee: 150\u00a0₸" in text and f"Cash: 150{NBSP}150\u00a0₸" in text, text
        rows = await h.app.db.query("SELECT fee_tiyn FROM approvals")
        assert rows[0]["fee_tiyn"] == 15000
        await h.press(boss, card, "Reject")
        await h.tg.wait_for(lambda: notice.text.startswith("🚫"))
        assert f"give back 150{NBSP}150\u00a0₸" in notice.plain, notice.plain

        withdrawn = await _request(h, cashier)
        await h.press(cashier, withdrawn, "Withdraw request")
        await h.tg.wait_for(lambda: withdrawn.text.startswith("🚫") and not withdrawn.buttons)
        assert "The request was cancelled" in withdrawn.plain
        assert f"give back 150{NBSP}150\u00a0₸" in withdrawn.plain, withdrawn.plain


async def test_a_request_from_before_the_fee_was_kept_is_paid_with_the_fee(
    controlled: Any,
) -> None:
    """Migration 11 leaves the fee of older requests unknown (NULL); the start fills it in
    with CASHIN_FEE, which is what approving one paid before the fee was kept."""
    async with controlled(approval_threshold=100000, cashin_fee="150") as h:
        await _request(h, h.user())
        card = await _card_in(h, SUPERVISOR)
        await h.app.db.write(lambda tx: tx.run("UPDATE approvals SET fee_tiyn = NULL"))
        await h.app.desk.fill_fees()
        rows = await h.app.db.query("SELECT fee_tiyn FROM approvals")
        assert [row["fee_tiyn"] for row in rows] == [15000]
        await h.press(h.user(SUPERVISOR), card, "Approve")
        payments = await h.app.db.query("SELECT fee_tiyn FROM payments")
        assert [row["fee_tiyn"] for row in payments] == [15000]
        # An ended one never named a fee: none is made up for it.
        await h.app.db.write(lambda tx: tx.run("UPDATE approvals SET fee_tiyn = NULL"))
        await h.app.desk.fill_fees()
        rows = await h.app.db.query("SELECT fee_tiyn FROM approvals")
        assert [row["fee_tiyn"] for row in rows] == [0]


# ---------------------------------------------------------------- item 13


async def test_the_card_shows_identification_and_todays_totals(controlled: Any) -> None:
    async with controlled(approval_threshold=100000) as h:
        await seed_payment(h.journal, login="77000000002", amount="3000")
        await seed_payment(h.journal, login="77000000002", amount="2000")
        await seed_payment(h.journal, login="77000000003", amount="1000")
        await _request(h, h.user(), login="77000000002")  # not identified
        card = await _card_in(h, SUPERVISOR)
        assert "Identified: no" in card.plain, card.plain
        assert f"cashier: 3 top-ups, 6{NBSP}000\u00a0₸" in card.plain, card.plain
        assert f"client: 2 top-ups, 5{NBSP}000\u00a0₸" in card.plain, card.plain
        assert "7700***0002" in card.plain and "77000000002" not in card.plain


async def test_rejection_reasons_are_buttons_told_in_the_cashiers_language(
    controlled: Any,
) -> None:
    async with controlled(approval_threshold=100000) as h:
        await h.app.people.set_language(CASHIER, "ru")
        cashier, boss = h.user(CASHIER, "ru"), h.user(SUPERVISOR)
        notice = await _request(h, cashier, confirm="Подтвердить")
        card = await _card_in(h, SUPERVISOR)
        mark = h.tg.mark()
        await h.press(boss, card, "Reject")
        ask = await h.tg.wait_message(SUPERVISOR, lambda m: "Reason" in m.plain, after=mark)
        labels = [label for label, _ in ask.callback_buttons]
        assert "Client not identified" in labels and len(labels) >= 3, labels
        assert "/skip" in ask.plain
        await h.press(boss, ask, "Client not identified")
        await h.tg.wait_for(lambda: "Клиент не идентифицирован" in notice.plain)
        await h.tg.wait_for(lambda: not ask.buttons)
        # The conversation is over: the next text is not taken for a reason.
        assert "reason" not in (await h.say(boss, "hello")).plain.lower()
        # A typed reason still works.
        second = await _request(h, cashier, confirm="Подтвердить")
        card = await _card_in(h, SUPERVISOR)
        mark = h.tg.mark()
        await h.press(boss, card, "Reject")
        ask = await h.tg.wait_message(SUPERVISOR, lambda m: "Reason" in m.plain, after=mark)
        thanks = await h.say(boss, "Call me")
        assert "cashier will see the reason" in thanks.plain
        await h.tg.wait_for(lambda: "Call me" in second.plain)
        await h.tg.wait_for(lambda: not ask.buttons)  # answered: its buttons go
