"""Fewer taps: "again for this client", recent clients at the login step, /history entries
that open with a button, prompts edited into the next step, and a late final that notifies —
end to end over real HTTP (Bot API stand-in, sandbox, SQLite)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.allpay.protocol import PayStatus
from bot.devtools.telegram import FakeTelegram
from bot.domain.clock import utcnow
from bot.domain.model import Status
from bot.store.db import Tx, ts
from tests.conftest import sandbox_folder
from tests.harness import (
    CASHIER,
    CASHIER_2,
    SUPERVISOR,
    Harness,
    running_bot,
    seed_payment,
    settings_for,
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
    await harness.press(user, prompt, "5\u202f000 ₸")
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
    assert first.guid in details.plain and "1\u202f500 ₸" in details.plain
    assert [label for label, _ in details.callback_buttons] == ["🧾 Receipt"]
    # Supervisors see everyone's: logins masked, cashiers named, the same buttons.
    boss = await harness.say(harness.user(SUPERVISOR), "/history")
    assert "7700***0001" in boss.plain and "+7 700 000 00 01" not in boss.plain
    assert [label for label, _ in boss.callback_buttons] == ["1", "2"]


async def test_a_late_final_also_comes_as_a_new_message(
    tmp_path: Path, sandbox_keys: Path, telegram: FakeTelegram
) -> None:
    sandbox_folder(tmp_path, sandbox_keys)
    # The resend of a pending payment is far away: the test moves the clock of the payment.
    settings = settings_for(
        tmp_path, telegram.base_url, pending_retry_min=600.0, pending_retry_max=600.0
    )
    async with running_bot(settings, telegram) as h:
        user = h.user()
        card = await h.top_up_card(user, "77000000001", "4000")  # first answer ⏳
        await h.press(user, card, "Confirm")
        status = await h.wait_status(CASHIER, card.message_id, "⏳")
        # Allpay's first answer (⏳ PENDING) is journaled and shown: not "sending" any more.
        await telegram.wait_for(lambda: "processing" in status.plain)
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
        assert late.plain.startswith("✅ 4\u202f000 ₸ · +7 700 000 00 01")
        assert "completed" in late.plain
