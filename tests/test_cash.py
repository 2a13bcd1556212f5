"""Cash on hand and its two-sided handover, through the bot: what each cashier holds after a
mix of ✅/❌/⏳/UNKNOWN top-ups; a handover counted short, confirmed, written off, audited,
in the digest and the export; self-confirmation refused; two supervisors at once, one wins;
the cash of a removed cashier survives them; /cancel withdraws a waiting handover."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite
import openpyxl
import pytest

from bot.allpay.protocol import PayStatus
from bot.devtools.telegram import ChatMessage, FakeTelegram
from bot.domain.audit import AuditAmount, AuditCount
from bot.domain.cash import HandoverOutcome, HandoverState
from bot.domain.clock import utcnow
from bot.domain.parsing import AmountError, format_tenge, parse_count
from bot.domain.reports import HANDOVER_CSV_COLUMNS
from bot.store.db import Tx
from bot.store.schema.sqlite import MIGRATIONS
from bot.store.sqlite import SqliteDatabase
from bot.usecases.cash import CashDesk
from bot.usecases.notices import Notices
from tests.harness import (
    ADMIN,
    CASHIER,
    CASHIER_2,
    SUPERVISOR,
    SUPERVISOR_CHAT,
    Harness,
    _has_button,
    english_words,
    seed_payment,
)
from tests.journal import INTEGRITY_ERRORS, Journal

ALMATY = ZoneInfo("Asia/Almaty")
SUPERVISOR_2 = 301


def tenge(amount: str) -> str:
    return format_tenge(Decimal(amount))


async def _completed(h: Harness, user: dict[str, Any], amount: str) -> ChatMessage:
    """A top-up the sandbox completes at once (client 02)."""
    card = await h.top_up_card(user, "77000000002", amount)
    await h.press(user, card, "Confirm")
    return await h.wait_status(user["id"], card.message_id, "✅")


async def _declare(h: Harness, user: dict[str, Any], amount: str, receiver: str) -> ChatMessage:
    """/handover → the count → who receives it; the cashier's declaration message."""
    prompt = await h.say(user, "/handover")
    assert "Count the cash" in prompt.text
    choose = await h.say(user, amount)
    assert _has_button("ht:")(choose), choose.text
    await h.press(user, choose, receiver)
    return await h.tg.wait_message(
        user["id"], lambda m: m.message_id == choose.message_id and "Handover #" in m.text
    )


async def _card(h: Harness, chat_id: int, number: int) -> ChatMessage:
    return await h.tg.wait_message(
        chat_id, lambda m: f"Cash handover #{number}" in m.text and _has_button("ho:y:")(m)
    )


# ---------------------------------------------------------------- cash on hand


async def test_cash_on_hand_counts_completed_top_ups_and_lists_the_rest_apart(
    harness: Harness,
) -> None:
    h, journal = harness, harness.journal
    await journal.set_user_name(CASHIER, "Әлия")
    await journal.set_user_name(CASHIER_2, "Берік")
    await seed_payment(journal, amount="1000")
    await seed_payment(journal, amount="2500")
    await seed_payment(journal, amount="700", status=PayStatus.DECLINED)
    await seed_payment(journal, amount="300", status=PayStatus.PENDING)
    await seed_payment(journal, amount="400", status=None)  # NEW: sent, no answer yet
    unknown = await seed_payment(journal, amount="900", status=PayStatus.PENDING)
    assert await journal.give_up(unknown.guid)  # UNKNOWN
    await seed_payment(journal, cashier_id=CASHIER_2, amount="5000")

    position = await h.app.cash.position(CASHIER)
    assert (position.collected, position.count) == (Decimal(3500), 2)
    assert (position.unresolved, position.unresolved_count) == (Decimal(1600), 3)

    own = await h.say(h.user(), "/cash")
    assert f"Cash on hand: {tenge('3500')}" in own.plain
    assert "From 2 completed top-ups; no handover yet." in own.plain
    assert f"Not counted: 3 top-ups of {tenge('1600')} without Allpay's final answer" in own.plain
    assert tenge("700") not in own.plain  # declined: the cash went back
    assert "/handover" in own.plain
    in_kazakh = await h.say(h.user(CASHIER, "kk"), "/cash")
    assert tenge("3500") in in_kazakh.plain and not english_words(in_kazakh.text)

    book = await h.say(h.user(SUPERVISOR), "/cash")
    assert f"Әлия (200): {tenge('3500')}" in book.plain
    assert f"Берік (201): {tenge('5000')}" in book.plain
    assert f"Total: {tenge('8500')}" in book.plain

    # Removed, the cashier's cash is still theirs to hand over: a supervisor records it.
    removed = await h.say(h.user(ADMIN), f"/remove {CASHIER_2}")
    assert "removed" in removed.plain.lower()
    book = await h.say(h.user(SUPERVISOR), "/cash")
    assert f"Берік (201): {tenge('5000')}" in book.plain
    await h.press(h.user(SUPERVISOR), book, "Record handover · Берік")
    ask = await h.tg.wait_message(SUPERVISOR, lambda m: "on behalf of Берік" in m.text)
    done = await h.say(h.user(SUPERVISOR), "5000")
    assert done.message_id > ask.message_id
    assert f"received {tenge('5000')}" in done.plain and "No difference." in done.plain
    book = await h.say(h.user(SUPERVISOR), "/cash")
    assert "Берік" not in book.plain and f"Total: {tenge('3500')}" in book.plain
    entries = await journal.audit_log(5)
    recorded = [e for e in entries if e.action == "handover.recorded"]
    assert [(e.actor_id, e.detail) for e in recorded] == [
        (SUPERVISOR, AuditCount(Decimal(5000), Decimal(5000)))
    ]
    # Recording for oneself is refused (the use case, as a forged press would reach it).
    refused = await h.app.cash.record(SUPERVISOR, SUPERVISOR, Decimal(1), 0)
    assert refused.outcome is HandoverOutcome.SELF
    # Two supervisors recording the same cash at once: one entry, the other is told.
    await seed_payment(journal, cashier_id=CASHIER_2, amount="800")
    seen = await h.app.cash.latest(CASHIER_2)
    both = await asyncio.gather(
        h.app.cash.record(SUPERVISOR, CASHIER_2, Decimal(800), seen),
        h.app.cash.record(ADMIN, CASHIER_2, Decimal(800), seen),
    )
    assert sorted(r.outcome.value for r in both) == ["already", "recorded"]
    position = await h.app.cash.position(CASHIER_2)
    assert position.collected == 0 and not position.open_variances


# ---------------------------------------------------------------- a full handover


@pytest.mark.backends  # storage is the point here too
async def test_a_short_handover_is_confirmed_written_off_audited_digested_and_exported(
    controlled: Any, telegram: FakeTelegram
) -> None:
    async with controlled(cashin_fee="100") as h:
        cashier, boss, admin = h.user(), h.user(SUPERVISOR), h.user(ADMIN)
        await h.say(boss, "/start")  # named as Telegram knows them
        await h.say(admin, "/start")
        await _completed(h, cashier, "5000")
        await _completed(h, cashier, "2000")  # 7 000 + 2 × 100 fee = 7 200 in cash

        prompt = await h.say(cashier, "/handover")
        assert f"you hold {tenge('7200')} from 2 completed top-ups" in prompt.plain
        choose = await h.say(cashier, "7 200")
        assert [label for label, _ in choose.callback_buttons] == [
            "User100",
            "User300",
            "Any supervisor",
        ]
        await h.press(cashier, choose, "User300")
        declared = await telegram.wait_message(
            CASHIER, lambda m: m.message_id == choose.message_id and "Handover #1" in m.text
        )
        assert f"{tenge('7200')} to User300 (300)" in declared.plain
        assert _has_button("ho:w:")(declared)

        card = await _card(h, SUPERVISOR, 1)  # the chosen supervisor only
        assert f"Declared: {tenge('7200')}" in card.plain
        assert f"Expected by our records: {tenge('7200')}" in card.plain
        assert not any("Cash handover" in m.text for m in telegram.messages(ADMIN))
        not_chosen = await h.app.cash.confirm(1, ADMIN)
        assert not_chosen.outcome is HandoverOutcome.NOT_YOURS

        await h.press(boss, card, "Another amount")
        await telegram.wait_message(SUPERVISOR, lambda m: "send the amount you received" in m.text)
        telegram.send_text(boss, "7000")  # the card shows the answer (issue 26, item 5)
        await telegram.wait_for(lambda: "received" in card.plain and not card.buttons)
        assert f"User300 (300) received {tenge('7000')}" in card.plain
        assert f"Shortage: {tenge('200')}" in card.plain

        # The declaration becomes the answer; a short reply to it makes the sound.
        await telegram.wait_for(lambda: "confirmed by" in declared.plain)
        assert f"received {tenge('7000')}" in declared.plain
        assert f"Shortage: {tenge('200')}" in declared.plain
        assert "stays on you until a supervisor writes it off" in declared.plain
        assert not declared.buttons  # no more "withdraw"
        await telegram.wait_message(
            CASHIER, lambda m: "confirmed by" in m.text, after=declared.message_id
        )

        # Answered is answered: a second answer and the database itself refuse a change.
        again = await h.app.cash.confirm(1, SUPERVISOR, Decimal(7200))
        assert again.outcome is HandoverOutcome.ALREADY

        def rewrite(tx: Tx) -> None:
            tx.run("UPDATE handovers SET received_tiyn = 720000 WHERE id = 1")

        with pytest.raises(INTEGRITY_ERRORS, match="immutable"):
            await h.app.db.write(rewrite)

        own = await h.say(cashier, "/cash")
        assert f"Cash on hand: {tenge('0')}" in own.plain
        assert f"Open shortage {tenge('200')} (handover #1)" in own.plain

        # A later top-up starts the next period.
        await _completed(h, cashier, "1000")
        own = await h.say(cashier, "/cash")
        assert f"Cash on hand: {tenge('1100')}" in own.plain
        assert "From 1 completed top-up since the handover of" in own.plain

        book = await h.say(boss, "/cash")
        await h.press(boss, book, "Write off #1")
        await telegram.wait_message(SUPERVISOR, lambda m: "send the reason" in m.text)
        settled = await h.say(boss, "Miscounted at the shop, agreed with the cashier")
        assert f"wrote off the difference of {tenge('200')}" in settled.plain
        note = await telegram.wait_message(
            CASHIER, lambda m: "wrote off" in m.text, after=declared.message_id
        )
        assert "Miscounted at the shop" in note.plain and "Miscounted" in declared.plain
        twice = await h.app.cash.write_off(1, SUPERVISOR, "again")
        assert twice.outcome is HandoverOutcome.ALREADY
        own = await h.say(cashier, "/cash")
        assert "Open shortage" not in own.plain

        entries = await h.journal.audit_log(40)
        trail = [(e.action, e.actor_id, e.subject, e.detail) for e in reversed(entries)]
        assert [t for t in trail if t[0].startswith("handover.")] == [
            ("handover.declared", CASHIER, "#1", AuditAmount(Decimal(7200))),
            ("handover.confirmed", SUPERVISOR, "#1", AuditCount(Decimal(7000), Decimal(7200))),
            ("handover.written_off", SUPERVISOR, "#1", AuditAmount(Decimal(200))),
        ]
        audit = await h.say(h.user(ADMIN, "ru"), "/audit 5")
        assert f"получено {tenge('7000')} из {tenge('7200')}" in audit.plain
        assert not english_words(audit.text)

        # The daily digest: cash on hand per cashier now, and the day's handovers.
        today = utcnow().astimezone(ALMATY).date()
        assert await h.journal.enqueue_digest(today, utcnow())
        h.app.sender.notices.wake()
        digest = await telegram.wait_message(SUPERVISOR_CHAT, lambda m: "Daily digest" in m.text)
        assert "Cash on hand now" in digest.plain
        assert f"User200 (200): {tenge('1100')}" in digest.plain
        assert (
            f"#1 User200 (200): received {tenge('7000')} of {tenge('7200')} "
            f"(shortage {tenge('200')}) · written off"
        ) in digest.plain

        # The export: a handovers CSV beside the payments, and a sheet in the workbook.
        mark = telegram.mark()
        telegram.send_text(boss, "/export")
        files = []
        for _ in range(3):
            sent = await telegram.wait_message(
                SUPERVISOR, lambda m: m.document is not None, after=mark
            )
            files.append(sent)
            mark = sent.message_id
        names = [f.document[0] for f in files if f.document]
        assert names[1].startswith("handovers_") and names[1].endswith(".csv")
        data = files[1].document[1] if files[1].document else b""
        rows = list(csv.reader(io.StringIO(data[3:].decode(), newline=""), delimiter=";"))
        assert rows[0] == list(HANDOVER_CSV_COLUMNS)
        row = dict(zip(HANDOVER_CSV_COLUMNS, rows[1], strict=True))
        assert (row["state"], row["expected_kzt"], row["declared_kzt"]) == (
            "CONFIRMED",
            "7200.00",
            "7200.00",
        )
        assert (row["received_kzt"], row["variance_kzt"], row["answered_by"]) == (
            "7000.00",
            "-200.00",
            str(SUPERVISOR),
        )
        assert row["write_off_reason"].startswith("Miscounted")
        workbook = openpyxl.load_workbook(
            io.BytesIO(files[2].document[1] if files[2].document else b"")
        )
        sheet = workbook["Handovers"]
        values = [cell.value for cell in next(sheet.iter_rows(min_row=2, max_row=2))]
        assert values[0] == 1 and values[5:9] == [7200, 7200, 7000, -200]


# ---------------------------------------------------------------- who may answer


@pytest.mark.backends  # storage is the point here too
async def test_self_confirmation_is_refused_and_of_two_supervisors_at_once_one_wins(
    controlled: Any, telegram: FakeTelegram
) -> None:
    async with controlled(supervisor_ids=[SUPERVISOR, SUPERVISOR_2]) as h:
        cashier, boss, boss_2 = h.user(), h.user(SUPERVISOR), h.user(SUPERVISOR_2)
        await _completed(h, cashier, "3000")
        await _declare(h, cashier, "3000", "Any supervisor")
        cards = [await _card(h, SUPERVISOR, 1), await _card(h, SUPERVISOR_2, 1)]
        before = len(telegram.callback_answers)
        telegram.press_button(boss, cards[0], "Received")
        telegram.press_button(boss_2, cards[1], "Received")
        await telegram.wait_for(lambda: len(telegram.callback_answers) >= before + 2)
        answers = list(telegram.callback_answers.values())[before:]
        lost = [a for a in answers if "Already answered" in str(a.get("text", ""))]
        assert len(lost) == 1 and lost[0].get("show_alert")
        handover = await h.app.cash.get(1)
        assert handover is not None and handover.state is HandoverState.CONFIRMED
        assert handover.decided_by in (SUPERVISOR, SUPERVISOR_2)
        assert handover.received == Decimal(3000) and handover.variance == 0
        entries = await h.journal.audit_log(20)
        assert len([e for e in entries if e.action == "handover.confirmed"]) == 1
        # Both cards end showing the one answer, without buttons.
        for card in cards:
            await telegram.wait_for(lambda card=card: "received" in card.plain and not card.buttons)
        # The cashier is told once, by the outbox, whoever won.
        await telegram.wait_message(CASHIER, lambda m: "confirmed by" in m.text)
        queued = await h.app.db.read(
            lambda tx: tx.value(
                "SELECT COUNT(*) FROM outbox WHERE kind = 'handover_notice' AND ref = '1'"
            )
        )
        assert queued == 1

        # A supervisor who topped up hands over to someone else, never to themselves.
        await _completed(h, boss, "2000")
        choose_self = await h.say(boss, "/handover 2000")
        labels = [label for label, _ in choose_self.callback_buttons]
        assert "User300" not in labels and "Any supervisor" in labels
        await h.press(boss, choose_self, "Any supervisor")
        own = await telegram.wait_message(SUPERVISOR, lambda m: "Handover #2" in m.text)
        assert own.message_id == choose_self.message_id
        assert not any("Cash handover #2" in m.text for m in telegram.messages(SUPERVISOR))
        refused = await h.app.cash.confirm(2, SUPERVISOR)
        assert refused.outcome is HandoverOutcome.SELF
        assert (await h.app.cash.get(2)).state is HandoverState.DECLARED  # type: ignore[union-attr]

        def confirm_own(tx: Tx) -> None:
            tx.run(
                "UPDATE handovers SET state = 'CONFIRMED', received_tiyn = 1, decided_by = ? "
                "WHERE id = 2",
                (SUPERVISOR,),
            )

        with pytest.raises(INTEGRITY_ERRORS):
            await h.app.db.write(confirm_own)  # the schema refuses it too
        entries = await h.journal.audit_log(5)
        assert any(
            e.action == "handover.self_refused" and e.actor_id == SUPERVISOR for e in entries
        )
        # A cashier pressing a supervisor's button is refused.
        card = await _card(h, SUPERVISOR_2, 2)
        await h.press(cashier, card, "Received")
        assert "Only supervisors and admins" in str(list(telegram.callback_answers.values())[-1])


async def test_cancel_withdraws_a_waiting_handover_and_the_cash_stays_on_hand(
    harness: Harness,
) -> None:
    h = harness
    await seed_payment(h.journal, amount="1500")
    cashier = h.user()
    declared = await _declare(h, cashier, "1500", "Any supervisor")
    card = await _card(h, SUPERVISOR, 1)
    waiting = await h.say(cashier, "/handover")  # one at a time: the waiting one, pointed at
    assert "Handover #1 of 1" in waiting.plain and not waiting.buttons
    await h.say(cashier, "/cancel")
    # Its own message says so (issue 26, item 5): withdrawn by the cashier, nothing more.
    await h.tg.wait_for(lambda: "Handover #1 withdrawn" in declared.plain and not declared.buttons)
    await h.tg.wait_for(lambda: "Withdrawn" in card.plain and not card.buttons)
    late = await h.app.cash.confirm(1, SUPERVISOR)
    assert late.outcome is HandoverOutcome.ALREADY
    position = await h.app.cash.position(CASHIER)
    assert position.collected == Decimal(1500) and position.waiting is None
    entries = await h.journal.audit_log(5)
    assert [e.action for e in entries if e.action.startswith("handover.")][:1] == [
        "handover.withdrawn"
    ]


async def test_an_answer_goes_to_the_question_it_replies_to(harness: Harness) -> None:
    """Two handovers asked about at once: a reply to #1's prompt confirms #1, whatever was
    asked last; an answer typed without replying goes to the latest question."""
    h, boss = harness, harness.user(SUPERVISOR)
    await seed_payment(h.journal, amount="1000")
    await seed_payment(h.journal, cashier_id=CASHIER_2, amount="2000")
    await _declare(h, h.user(), "1000", "Any supervisor")
    await _declare(h, h.user(CASHIER_2), "2000", "Any supervisor")
    first, second = await _card(h, SUPERVISOR, 1), await _card(h, SUPERVISOR, 2)
    await h.press(boss, first, "Another amount")
    ask_1 = await h.tg.wait_message(SUPERVISOR, lambda m: "Handover #1: send" in m.text)
    await h.press(boss, second, "Another amount")
    await h.tg.wait_message(SUPERVISOR, lambda m: "Handover #2: send" in m.text)
    h.tg.send_text(boss, "900", reply_to=ask_1)
    # Each card shows its answer (issue 26, item 5: no second copy of it).
    await h.tg.wait_for(lambda: f"received {tenge('900')}" in first.plain)
    assert (await h.app.cash.get(2)).state is HandoverState.DECLARED  # type: ignore[union-attr]
    bad = await h.say(boss, "two thousand")  # a bad answer keeps the question open
    assert "Enter the amount in digits" in bad.plain
    h.tg.send_text(boss, "2000,00")
    await h.tg.wait_for(lambda: "No difference." in second.plain and not second.buttons)
    gone = await h.say(boss, "100")
    assert "Cash handover" not in gone.text  # no question left: nothing is confirmed


async def test_a_handover_to_a_supervisor_who_leaves_is_withdrawn(harness: Harness) -> None:
    h = harness
    await seed_payment(h.journal, amount="1500")
    declared = await _declare(h, h.user(), "1500", str(SUPERVISOR))
    assert f"to {SUPERVISOR}" in declared.plain
    await h.say(h.user(ADMIN), f"/block {SUPERVISOR}")
    told = await h.tg.wait_message(CASHIER, lambda m: "Handover #1 withdrawn" in m.text)
    assert "still counted on you" in told.plain
    handover = await h.app.cash.get(1)
    assert handover is not None and handover.state is HandoverState.WITHDRAWN
    assert handover.decided_by == ADMIN


@pytest.mark.parametrize(
    ("text", "amount"),
    [("50000", "50000"), ("50 000", "50000"), ("1 099,50", "1099.50"), ("7200.5", "7200.50"),
     ("0", "0"), ("5 000 ₸", "5000")],
)  # fmt: skip
def test_counts_of_cash_take_tiyn_and_zero(text: str, amount: str) -> None:
    assert parse_count(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["12,345", "٣٠", "-5", "1e5", "five", "99999999999"])
def test_counts_of_cash_refuse_what_is_not_one(text: str) -> None:
    with pytest.raises(AmountError):
        parse_count(text)


async def test_the_upgrade_opens_each_count_after_the_history(tmp_path: Path) -> None:
    """Cash is counted from the version that brought handovers: a journal upgraded with
    completed top-ups shows no cash on hand for them; what completes afterwards counts."""
    path = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(path) as conn:
        script = "".join(
            f"{migration}\nPRAGMA user_version={number};\n"
            for number, migration in enumerate(MIGRATIONS[:7], start=1)
        )
        await conn.executescript(f"BEGIN;{script}COMMIT;")
        await conn.execute(
            "INSERT INTO payments (guid, requester, cashier_id, chat_id, login, client_name, "
            "amount_tiyn, lang, status, created_at, updated_at, next_attempt_at, receipt_no) "
            "VALUES ('{00000000-0000-4000-8000-000000000001}', 'a', ?, ?, '77000000001', 'X', "
            "150000, 'ru', 'COMPLETED', '2026-11-01T00:00:00.000000+00:00', "
            "'2026-11-01T00:00:00.000000+00:00', '2026-11-01T00:00:00.000000+00:00', 7)",
            (CASHIER, CASHIER),
        )
        await conn.commit()
    db = SqliteDatabase(path)
    await db.open()
    try:
        desk = CashDesk(db, Notices([]), ALMATY)
        assert (await desk.position(CASHIER)).collected == 0
        assert not (await desk.book()).positions
        await seed_payment(Journal(db), amount="300")
        position = await desk.position(CASHIER)
        assert (position.collected, position.count) == (Decimal(300), 1)
        today = datetime.now(ALMATY).date()
        day = await desk.day(today)
        assert not day.handovers  # the opening is never shown as a handover
    finally:
        await db.close()
