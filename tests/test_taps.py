"""Fewer taps: "again for this client", recent clients at the login step, /history entries
that open with a button, prompts edited into the next step, and a late final that notifies —
end to end over real HTTP (Bot API stand-in, sandbox, SQLite)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from bot.allpay.protocol import PayStatus
from bot.devtools.telegram import FakeTelegram
from bot.domain.clock import utcnow
from bot.domain.model import OutboxKind, Status
from bot.store.db import Tx, ts
from bot.store.outbox import Outbox
from bot.telegram.cashin.notices import show_status
from tests.harness import (
    CASHIER,
    CASHIER_2,
    SUPERVISOR,
    Harness,
    seed_payment,
)


async def test_again_for_this_client_starts_a_new_top_up_for_the_same_login(
    harness: Harness,
) -> None:
    tg = harness.tg
    user = harness.user()
    card = await harness.top_up_card(user, "77000000002", "3000")
    await harness.press(user, card, "Confirm")
    done = await harness.wait_status(CASHIER, card.message_id, "✅")
    labels = [label for label, _ in done.callback_buttons]
    assert labels == ["🧾 Receipt", "🔁 Again for this client"]
    status_text = done.text
    mark = tg.mark()
    await harness.press(user, done, "Again for this client")
    # Straight to the client, checked with Allpay afresh: no login to type.
    prompt = await tg.wait_message(CASHIER, lambda m: bool(m.buttons), after=mark)
    assert "+7 700 000 00 02" in prompt.plain and "Enter the amount" in prompt.plain
    assert done.text == status_text  # the finished payment's message is left as it was
    # A preset turns the prompt itself into the card: no orphaned prompt, no new message.
    await harness.press(user, prompt, "5\u202f000\u00a0₸")
    await tg.wait_for(lambda: "Confirm" in str(prompt.callback_buttons))
    assert "Check and confirm the top-up" in prompt.plain
    await harness.press(user, prompt, "Confirm")
    await harness.wait_status(CASHIER, prompt.message_id, "✅")
    payments = (await harness.journal.payments_page(None, 0, 10))[0]
    assert [p.login for p in payments] == ["77000000002", "77000000002"]
    assert len({p.guid for p in payments}) == 2


async def test_again_refused_for_someone_elses_or_an_unknown_payment(harness: Harness) -> None:
    theirs = await seed_payment(harness.journal, cashier_id=CASHIER_2)
    mine = await seed_payment(harness.journal, login="77000000002", status=PayStatus.DECLINED)
    user = harness.user()
    page = await harness.say(user, "/history")
    tg = harness.tg
    for guid in (theirs.guid, "{00000000-0000-0000-0000-000000000000}"):
        before = len(tg.callback_answers)
        tg.press(user, page, f"ag:{guid}")
        await tg.wait_for(lambda b=before: len(tg.callback_answers) > b)  # type: ignore[misc]
        answer = list(tg.callback_answers.values())[-1]
        assert answer.get("show_alert") and "no longer active" in answer["text"]
    # A declined payment of one's own may be tried again.
    mark = tg.mark()
    tg.press(user, page, f"ag:{mine.guid}")
    prompt = await tg.wait_message(CASHIER, lambda m: bool(m.buttons), after=mark)
    assert "+7 700 000 00 02" in prompt.plain


async def test_recent_clients_are_offered_at_the_login_step(harness: Harness) -> None:
    journal = harness.journal
    await seed_payment(journal, login="77000000002", client_name="Old Client")
    await seed_payment(journal, login="77000000001", client_name="Айгүл Сейітова")
    await seed_payment(journal, login="77000000002", client_name="Ерлан Нұрланұлы")
    await seed_payment(journal, login="77000000005", cashier_id=CASHIER_2)  # not theirs
    user = harness.user()
    prompt = await harness.say(user, "/cashin")
    assert "recent clients" in prompt.plain
    labels = [label for label, _ in prompt.callback_buttons]
    # Newest first, each client once, under the name Allpay gave last.
    assert labels == ["Ерлан Нұрланұлы · +7 700 000 00 02", "Айгүл Сейітова · +7 700 000 00 01"]
    mark = harness.tg.mark()
    await harness.press(user, prompt, "Айгүл")
    # The prompt becomes the client card with the amount presets: nothing new is sent.
    await harness.tg.wait_for(lambda: "Enter the amount" in prompt.plain)
    assert "+7 700 000 00 01" in prompt.plain
    assert [m for m in harness.tg.messages(CASHIER) if m.message_id > mark] == []
    card = await harness.say(user, "2000")
    await harness.press(user, card, "Confirm")
    await harness.wait_status(CASHIER, card.message_id, "⏳")


async def test_no_recent_clients_no_buttons(harness: Harness) -> None:
    prompt = await harness.say(harness.user(), "/cashin")
    assert prompt.buttons == [] and "recent" not in prompt.plain


async def test_history_names_the_cashiers_clients_and_opens_each_entry(harness: Harness) -> None:
    journal = harness.journal
    first = await seed_payment(journal, login="77000000001", client_name="Айгүл <b>", amount="1500")
    await seed_payment(journal, login="77000000002", client_name="Ерлан", status=PayStatus.DECLINED)
    user = harness.user()
    page = await harness.say(user, "/history")
    assert "2. " in page.plain and "Айгүл <b> · +7 700 000 00 01" in page.plain
    assert "Ерлан · +7 700 000 00 02" in page.plain
    assert [label for label, _ in page.callback_buttons] == ["1", "2"]
    mark = harness.tg.mark()
    await harness.press(user, page, "2")  # the oldest: the first payment
    details = await harness.tg.wait_message(CASHIER, after=mark)
    assert first.guid in details.plain and "1\u202f500\u00a0₸" in details.plain
    assert [label for label, _ in details.callback_buttons] == ["🧾 Receipt"]
    # Supervisors see everyone's: logins masked, cashiers named, the same buttons.
    boss = await harness.say(harness.user(SUPERVISOR), "/history")
    assert "7700***0001" in boss.plain and "+7 700 000 00 01" not in boss.plain
    assert [label for label, _ in boss.callback_buttons] == ["1", "2"]


async def test_a_late_final_also_comes_as_a_new_message(
    controlled: Any, telegram: FakeTelegram
) -> None:
    # The resend of a pending payment is far away: the test moves the clock of the payment.
    async with controlled(pending_retry_min=600.0, pending_retry_max=600.0) as h:
        user = h.user()
        card, _status = await h.pending_top_up(user, "4000")
        [payment] = (await h.journal.payments_page(None, 0, 10))[0]
        assert payment.status is Status.PENDING
        mark = telegram.mark()
        confirmed = utcnow() - timedelta(minutes=3)

        def three_minutes_ago(tx: Tx) -> None:
            tx.run(
                "UPDATE payments SET created_at = ?, next_attempt_at = ? WHERE guid = ?",
                (ts(confirmed), ts(utcnow()), payment.guid),
            )

        await h.app.db.write(three_minutes_ago)
        h.app.sender.resolver_wakeup.set()
        await h.wait_status(CASHIER, card.message_id, "✅")
        late = await telegram.wait_message(CASHIER, after=mark)
        assert late.plain.startswith("✅ 4\u202f000\u00a0₸ · +7 700 000 00 01")
        assert "completed" in late.plain


# ---------------------------------------------------------------- stale buttons (a review)


def _replay(h: Harness, user: dict[str, Any], data: str, message: dict[str, Any]) -> int:
    """A callback query as a late or duplicated update carries it: the message as it was."""
    return h.tg.send_update(
        {
            "callback_query": {
                "id": f"replay-{data}",
                "from": user,
                "chat_instance": str(user["id"]),
                "data": data,
                "message": message,
            }
        }
    )


async def test_a_stale_tap_never_touches_a_paid_status(harness: Harness) -> None:
    """A card edited into a prompt, then into another card, then into that payment's status:
    a replayed "Change amount" of the first card changes nothing on it; neither does a
    replayed preset from the prompt once a new top-up is at its amount step."""
    tg, user = harness.tg, harness.user()
    card = await harness.top_up_card(user, "77000000002", "3000")
    change = next(d for t, d in card.callback_buttons if "Change" in t)
    as_card = copy.deepcopy(tg._message_json(card))
    await harness.press(user, card, "Change amount")
    await tg.wait_for(lambda: "Enter the amount" in card.plain)
    preset = next(d for t, d in card.callback_buttons if d.startswith("a:"))
    as_prompt = copy.deepcopy(tg._message_json(card))
    await harness.press(user, card, "5\u202f000\u00a0₸")
    await tg.wait_for(lambda: "Confirm" in str(card.callback_buttons))
    await harness.press(user, card, "Confirm")
    done = await harness.wait_status(CASHIER, card.message_id, "✅")
    paid = done.text
    await harness.say(user, "/cashin")
    await harness.say(user, "77000000001")  # the new top-up waits for its amount
    for data, message in ((change, as_card), (preset, as_prompt)):
        before = len(tg.callback_answers)
        _replay(harness, user, data, message)
        await tg.wait_for(lambda b=before: len(tg.callback_answers) > b)  # type: ignore[misc]
    await harness.say(user, "/help")  # this user's updates are handled in order
    assert done.text == paid and done.text.startswith("✅")
    assert [p.amount for p in (await harness.journal.payments_page(None, 0, 10))[0]] == [5000]


async def test_a_double_tap_on_change_amount_keeps_the_prompt(harness: Harness) -> None:
    tg, user = harness.tg, harness.user()
    card = await harness.top_up_card(user, "77000000002", "3000")
    data = next(d for t, d in card.callback_buttons if "Change" in t)
    before = len(tg.callback_answers)
    tg.press(user, card, data)  # both taps carry the card as it was
    tg.press(user, card, data)
    await tg.wait_for(lambda: len(tg.callback_answers) >= before + 2)
    await harness.say(user, "/help")
    assert "Enter the amount" in card.plain and "no longer valid" not in card.plain
    await harness.press(user, card, "5\u202f000\u00a0₸")  # and it still works
    await tg.wait_for(lambda: "Check and confirm" in card.plain)


async def test_a_late_final_is_told_once_even_when_an_earlier_status_is_retried(
    controlled: Any, telegram: FakeTelegram
) -> None:
    """A status item that failed earlier (a Telegram 5xx) and waits in backoff is delivered
    after the final one: its edit changes nothing, and no second late message goes out."""
    async with controlled(pending_retry_min=600.0, pending_retry_max=600.0) as h:
        user = h.user()
        card, _status = await h.pending_top_up(user, "4000")
        [payment] = (await h.journal.payments_page(None, 0, 10))[0]

        def backoff(tx: Tx) -> None:
            now = utcnow()
            Outbox.enqueue(tx, now, OutboxKind.STATUS, payment.chat_id, payment.guid)
            item_id = int(tx.value("SELECT MAX(id) FROM outbox") or 0)
            Outbox.retry(tx, now, "TelegramServerError", 0.5, [item_id])
            tx.run(
                "UPDATE payments SET created_at = ?, next_attempt_at = ? WHERE guid = ?",
                (ts(now - timedelta(minutes=3)), ts(now), payment.guid),
            )

        await h.app.db.write(backoff)
        h.app.sender.resolver_wakeup.set()
        await h.wait_status(CASHIER, card.message_id, "✅")

        await telegram.wait_message(CASHIER, lambda m: "completed; the cash" in m.plain)
        # The retried item's delivery, whenever it comes: the final status again.
        final = await h.journal.get_payment(payment.guid)
        assert final is not None and final.status is Status.COMPLETED
        await show_status(h.app.outbox.delivery, [], final)
        await h.say(user, "/help")
        late = [m for m in telegram.messages(CASHIER) if "completed; the cash" in m.plain]
        assert len(late) == 1


async def test_another_cashiers_press_on_a_card_changes_nothing(harness: Harness) -> None:
    """A card seen by two roster members (a group they shared before cash-in became
    private-only): the other's Confirm neither pays nor voids the owner's card."""
    owner, other = harness.user(CASHIER), harness.user(CASHIER_2)
    card = await harness.top_up_card(owner, "77000000002", "3000")
    before = (card.text, list(card.callback_buttons))
    await harness.press(other, card, "Confirm")
    await harness.press(other, card, "Cancel")
    assert (card.text, list(card.callback_buttons)) == before  # not "no longer valid"
    assert await harness.journal.payments_page(None, 0, 10) == ([], 0)
    await harness.press(owner, card, "Confirm")
    await harness.wait_status(CASHIER, card.message_id, "✅")
