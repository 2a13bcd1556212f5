"""Words a cashier and a supervisor read (issue 26, item 11, all but /help) and the cashier's
handover message that follows its answer, one result per action (item 5, the handover part):
played through the Bot API stand-in and the sandbox."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.allpay.protocol import PayStatus
from bot.devtools.telegram import ChatMessage
from bot.domain.clock import utcnow
from bot.domain.parsing import format_tenge
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

ALMATY = ZoneInfo("Asia/Almaty")


def tenge(amount: str) -> str:
    return format_tenge(Decimal(amount))


async def _outbox_idle(h: Harness) -> None:
    """Every queued message delivered (what a test then sees is all there is)."""

    async def left() -> int:
        rows = await h.app.db.query("SELECT COUNT(*) AS n FROM outbox WHERE done_at IS NULL")
        return int(rows[0]["n"])

    async with asyncio.timeout(15):
        while await left():
            await h.tg.wait_change(h.tg.version)


async def _declare(h: Harness, user: dict[str, Any], amount: str) -> ChatMessage:
    """/handover → the count → any supervisor; the cashier's declaration message."""
    await h.say(user, "/handover")
    choose = await h.say(user, amount)
    assert _has_button("ht:")(choose), choose.text
    await h.press(user, choose, "Any supervisor")
    return await h.tg.wait_message(
        user["id"], lambda m: m.message_id == choose.message_id and "Handover #" in m.text
    )


async def _card(h: Harness, chat_id: int, number: int) -> ChatMessage:
    return await h.tg.wait_message(
        chat_id, lambda m: f"Cash handover #{number}" in m.text and _has_button("ho:y:")(m)
    )


def _replied_to(h: Harness, chat_id: int, after_calls: int) -> list[int | None]:
    """The message each sendMessage to ``chat_id`` since ``after_calls`` replied to."""
    found: list[int | None] = []
    for method, params in h.tg.calls[after_calls:]:
        if method != "sendMessage" or str(params.get("chat_id")) != str(chat_id):
            continue
        reply = params.get("reply_parameters")
        if isinstance(reply, str):
            reply = json.loads(reply)
        found.append(int(reply["message_id"]) if isinstance(reply, dict) else None)
    return found


# ---------------------------------------------------------------- item 11: status words


async def test_a_pending_status_says_once_where_the_answer_comes(controlled: Any) -> None:
    """ "…the result will appear here. Keep the cash…: the answer will come here." said it
    twice."""
    async with controlled(pending_retry_min=600.0, pending_retry_max=600.0) as h:
        _card_message, status = await h.pending_top_up(h.user(), "4000")
        assert status.plain.count(" here") == 1, status.plain
        assert "Keep the cash" in status.plain
        _card_ru, status_ru = await _pending_in(h, h.user(CASHIER_2, "ru"), "3000")
        assert "здесь" not in status_ru.plain and status_ru.plain.count("сюда") == 1, (
            status_ru.plain
        )


async def _pending_in(
    h: Harness, user: dict[str, Any], amount: str
) -> tuple[ChatMessage, ChatMessage]:
    card = await h.top_up_card(user, "77000000001", amount)
    await h.press(user, card, "✅")
    status = await h.wait_status(user["id"], card.message_id, "⏳")
    await h.tg.wait_for(lambda: "Allpay" in status.plain and "…" not in status.plain)
    return card, status


async def test_a_declined_status_does_not_repeat_its_head(harness: Harness) -> None:
    """ "❌ Top-up declined\\nAllpay: Top-up declined: the client's wallet is blocked"."""
    h = harness
    for user, head in ((h.user(), "declined"), (h.user(CASHIER_2, "ru"), "отклонено")):
        card = await h.top_up_card(user, "77000000003", "2000")
        await h.press(user, card, "✅")
        done = await h.wait_status(user["id"], card.message_id, "❌")
        assert done.plain.lower().count(head) == 1, done.plain
        assert "blocked" in done.plain or "заблокирован" in done.plain, done.plain
        assert "Allpay: " in done.plain  # whose reason it is
        guid = done.plain.split("GUID: ")[1].split("\n")[0]
        found = await h.say(user, f"/find {guid}")  # its card: the same, once
        assert found.plain.lower().count(head) == 1, found.plain


async def test_attempts_are_not_shown_to_a_cashier(harness: Harness) -> None:
    """A normal ⏳→✅ top-up was sent twice with one GUID: "Attempts: 2" read like a double
    top-up. The cashier sees no count; a supervisor reads what it means."""
    h = harness
    user = h.user()
    card = await h.top_up_card(user, "77000000001", "2500")  # the sandbox: ⏳, then ✅
    await h.press(user, card, "Confirm")
    await h.wait_status(CASHIER, card.message_id, "✅")
    payments, _total = await h.journal.payments_page(None, 0, 10)
    assert payments[0].attempts == 2
    guid = payments[0].guid
    own = await h.say(user, f"/find {guid}")
    assert guid in own.text and "ttempt" not in own.plain, own.plain
    boss = await h.say(h.user(SUPERVISOR), f"/find {guid}")
    assert "Attempts with Allpay: 2 (one GUID, one top-up)" in boss.plain, boss.plain


async def test_the_pending_legend_explains_only_symbols_present(harness: Harness) -> None:
    h = harness
    waiting = await seed_payment(
        h.journal,
        amount="700",
        status=PayStatus.PENDING,
        created_at=utcnow() - timedelta(minutes=7),
    )
    boss = h.user(SUPERVISOR)
    only_waiting = await h.say(boss, "/pending")
    assert f"⏳ 700\u00a0₸ · 7700***0001 · <code>{waiting.guid[1:9]}</code>" in only_waiting.text
    assert "⚠️" not in only_waiting.text, only_waiting.plain
    assert await h.journal.give_up(waiting.guid)  # UNKNOWN: now the ⚠️ is there
    with_stuck = await h.say(boss, "/pending")
    assert "⚠️ 700\u00a0₸" in with_stuck.text
    assert "⚠️ — the bot stopped resending" in with_stuck.plain


# ---------------------------------------------------------------- item 11: cash words


async def test_open_differences_finish_their_sentence(harness: Harness) -> None:
    """ "⚠️ Open shortage 1 500 ₸ (handover #1): until a supervisor writes it off." ended
    before saying what holds until then."""
    h, cash = harness, harness.app.cash
    await seed_payment(h.journal, amount="5000")
    declared = await cash.declare(CASHIER, CASHIER, Decimal(5000), None)
    assert declared.handover is not None
    await cash.confirm(declared.handover.id, SUPERVISOR, Decimal(3500))
    await _outbox_idle(h)  # the cashier's notices out of the way of the answers below
    own = await h.say(h.user(), "/cash")
    assert (
        f"⚠️ Open shortage {tenge('1500')} (handover #1): counted on you until a supervisor "
        "writes it off."
    ) in own.plain, own.plain
    book = await h.say(h.user(SUPERVISOR), "/cash")
    assert (
        f"⚠️ Open shortage {tenge('1500')} (handover #1): owed by the cashier until a "
        "supervisor writes it off."
    ) in book.plain, book.plain
    await seed_payment(h.journal, amount="1000")
    second = await cash.declare(CASHIER, CASHIER, Decimal(1200), None)
    assert second.handover is not None
    await cash.confirm(second.handover.id, SUPERVISOR, Decimal(1200))
    await _outbox_idle(h)
    own = await h.say(h.user(), "/cash")
    assert (
        f"➕ Open surplus {tenge('200')} (handover #2): held for you until a supervisor "
        "writes it off."
    ) in own.plain, own.plain
    in_russian = await h.say(h.user(CASHIER, "ru"), "/cash")
    assert "числится за вами, пока супервайзер её не спишет" in in_russian.plain
    assert not english_words(in_russian.text)
    in_kazakh = await h.say(h.user(SUPERVISOR, "kk"), "/cash")
    assert "кассирдің есебінде тұр" in in_kazakh.plain, in_kazakh.plain
    assert not english_words(in_kazakh.text)


async def test_nothing_received_and_a_surplus_are_said_plainly(harness: Harness) -> None:
    """ "disputed" for "nothing received"; «получено 200 000 ₸ из 115 000 ₸» for a surplus."""
    h, cash = harness, harness.app.cash
    await h.say(h.user(), "/start")  # named as Telegram knows them
    await h.say(h.user(SUPERVISOR), "/start")
    await seed_payment(h.journal, amount="115000")
    first = await cash.declare(CASHIER, CASHIER, Decimal(115000), None)
    assert first.handover is not None
    await cash.dispute(first.handover.id, SUPERVISOR)
    second = await cash.declare(CASHIER, CASHIER, Decimal(200000), None)
    assert second.handover is not None
    await cash.confirm(second.handover.id, SUPERVISOR, Decimal(200000))
    await _outbox_idle(h)

    audit = await h.say(h.user(ADMIN, "ru"), "/audit 5")
    assert (
        f"получено {tenge('200000')} вместо {tenge('115000')} (излишек {tenge('85000')})"
    ) in audit.plain, audit.plain
    assert f"из {tenge('115000')}" not in audit.plain
    audit_kk = await h.say(h.user(ADMIN, "kk"), "/audit 5")
    assert f"{tenge('115000')} орнына {tenge('200000')} алынды" in audit_kk.plain, audit_kk.plain

    today = utcnow().astimezone(ALMATY).date()
    assert await h.journal.enqueue_digest(today, utcnow())
    h.app.sender.notices.wake()
    digest = await h.tg.wait_message(SUPERVISOR_CHAT, lambda m: "Daily digest" in m.text)
    assert "disputed" not in digest.plain
    assert (
        f"#1 User{CASHIER} ({CASHIER}): not received by User{SUPERVISOR} ({SUPERVISOR})"
        in digest.plain
    ), digest.plain
    assert (
        f"#2 User{CASHIER} ({CASHIER}): received {tenge('200000')} instead of "
        f"{tenge('115000')} (surplus {tenge('85000')})"
    ) in digest.plain, digest.plain


# ---------------------------------------------------------------- item 5: handover messages


async def test_the_cashiers_handover_message_follows_its_answer(harness: Harness) -> None:
    """The declaration kept "the answer will come here" after the answer came (in a new
    message). It becomes the answer; a short reply to it notifies."""
    h = harness
    cashier, boss = h.user(), h.user(SUPERVISOR)
    await seed_payment(h.journal, amount="1500")
    declared = await _declare(h, cashier, "1500")
    assert "the answer will come here" in declared.plain  # true while it waits
    card = await _card(h, SUPERVISOR, 1)
    calls, mark = len(h.tg.calls), h.tg.mark()
    await h.press(boss, card, "Another amount")
    await h.tg.wait_message(SUPERVISOR, lambda m: "send the amount you received" in m.text)
    h.tg.send_text(boss, "1000")
    await h.tg.wait_for(lambda: "confirmed by" in declared.plain)
    assert "will come here" not in declared.plain and not declared.buttons, declared.plain
    assert f"Shortage: {tenge('500')}" in declared.plain
    await _outbox_idle(h)
    told = [m for m in h.tg.messages(CASHIER) if m.message_id > mark]
    assert len(told) == 1 and told[0].text != declared.text, [m.text for m in told]
    assert "Handover #1" in told[0].plain
    assert _replied_to(h, CASHIER, calls) == [declared.message_id]

    # Written off later: the same message, and the supervisor's card, say so.
    book = await h.say(boss, "/cash")
    await h.press(boss, book, "Write off #1")
    await h.tg.wait_message(SUPERVISOR, lambda m: "send the reason" in m.text)
    await h.say(boss, "Counted again: agreed")
    await h.tg.wait_for(lambda: "wrote off" in declared.plain and "wrote off" in card.plain)
    assert "stays on you" not in declared.plain, declared.plain
    # The write-off's notices are out before the next step, or its reply may be one of them.
    await _outbox_idle(h)

    # /handover while one waits points at its message: no second copy that would go stale.
    await seed_payment(h.journal, amount="800")
    second = await _declare(h, cashier, "800")
    again = await h.say(cashier, "/handover")
    assert "Handover #2" in again.plain and not again.buttons, again.plain
    # Withdrawn by the cashier's own press: the message says so, nothing more is sent.
    mark = h.tg.mark()
    await h.press(cashier, second, "Withdraw")
    await h.tg.wait_for(lambda: "withdrawn" in second.plain and not second.buttons)
    assert "will come here" not in second.plain
    await _outbox_idle(h)
    assert [m.text for m in h.tg.messages(CASHIER) if m.message_id > mark] == []


async def test_another_amount_gives_one_result(harness: Harness) -> None:
    """A supervisor typing another amount got a new message and an identical edit of the
    card: now the card shows the answer, once."""
    h = harness
    boss = h.user(SUPERVISOR)
    await seed_payment(h.journal, amount="3000")
    await _declare(h, h.user(), "3000")
    card = await _card(h, SUPERVISOR, 1)
    await h.press(boss, card, "Another amount")
    await h.tg.wait_message(SUPERVISOR, lambda m: "send the amount you received" in m.text)
    edits, mark = card.edits, h.tg.mark()
    h.tg.send_text(boss, "2900")
    await h.tg.wait_for(lambda: f"received {tenge('2900')}" in card.plain and not card.buttons)
    await _outbox_idle(h)
    assert f"Shortage: {tenge('100')}" in card.plain
    assert [m.text for m in h.tg.messages(SUPERVISOR) if m.message_id > mark] == []
    assert card.edits == edits + 1


async def test_no_text_sends_a_cashier_to_check_the_card(harness: Harness) -> None:
    """ "check the card" reads as a bank card to a cashier who takes cards too."""
    for language, card in (("en", "check the card"), ("ru", "карточк"), ("kk", "карточка")):
        reply = await harness.say(harness.user(CASHIER, language), "/help")
        assert "1." in reply.plain, reply.plain  # the steps of a top-up
        assert card not in reply.plain.lower(), reply.plain
