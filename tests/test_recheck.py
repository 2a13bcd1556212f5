"""/recheck against the sandbox: an UNKNOWN payment (given up on) sent once more with its
own GUID; Allpay's final word replaces UNKNOWN and the cashier and supervisors are told;
refused on a final payment and for a cashier; audited."""

from __future__ import annotations

from typing import Any

from bot.devtools.telegram import ChatMessage, FakeTelegram
from bot.domain.audit import AuditStatus
from bot.domain.clock import utcnow
from bot.domain.model import Payment, Status
from tests.harness import (
    CASHIER,
    SUPERVISOR,
    SUPERVISOR_CHAT,
    Harness,
    english_words,
)


async def _given_up(
    h: Harness, cashier: dict[str, Any]
) -> tuple[ChatMessage, ChatMessage, Payment]:
    """A top-up Allpay answered ⏳ whose resends the bot gave up on: UNKNOWN (as the give-up
    horizon would make it, 48 h later)."""
    card, status = await h.pending_top_up(cashier, "7000")  # Allpay: ⏳, then ✅
    [payment] = (await h.journal.payments_page(None, 0, 10))[0]
    assert await h.app.sender.give_up(payment.guid)
    return card, status, payment


async def test_recheck_turns_unknown_into_allpays_final_word(
    controlled: Any, telegram: FakeTelegram
) -> None:
    # Its resend is far away: the give-up is the test's (as the horizon would, 48 h later).
    async with controlled(pending_retry_min=600.0, pending_retry_max=600.0) as h:
        cashier, boss = h.user(), h.user(SUPERVISOR)
        card, status, payment = await _given_up(h, cashier)
        await telegram.wait_for(lambda: status.text.startswith("⚠️"))  # needs reconciliation

        refused = await h.say(cashier, f"/recheck {payment.guid}")
        assert "Only supervisors" in refused.text
        assert h.sandbox.stats.pay_guids[payment.guid] == 1
        usage = await h.say(boss, "/recheck")
        assert usage.text.startswith("Usage: /recheck")
        missing = await h.say(boss, "/recheck 00000000")
        assert missing.text == "No top-up with that GUID."

        reply = await h.say(boss, f"/recheck {payment.guid.strip('{}')[:8]}")
        assert "Allpay's answer is in: ✅ completed" in reply.text
        assert h.sandbox.stats.pay_guids == {payment.guid: 2}  # the same GUID, once more
        after = await h.journal.get_payment(payment.guid)
        assert after is not None and after.status is Status.COMPLETED
        assert after.receipt_no == 1 and after.final_at is not None
        await h.wait_status(CASHIER, card.message_id, "✅")  # the cashier's card, edited
        feed = await telegram.wait_message(
            SUPERVISOR_CHAT, lambda m: m.text.startswith("✅") and payment.guid[1:9] in m.text
        )
        assert feed
        again = await h.say(boss, f"/recheck {payment.guid}")
        assert "already completed by Allpay; nothing to recheck" in again.text
        assert h.sandbox.stats.pay_guids[payment.guid] == 2
        entries = await h.journal.audit_log(10)
        recheck = [e for e in entries if e.action == "payment.recheck"]
        assert [(e.actor_id, e.detail) for e in recheck] == [
            (SUPERVISOR, AuditStatus(Status.UNKNOWN, Status.COMPLETED))
        ]
        # The audit trail says it in the reader's words.
        trail = await h.say(h.user(100, "ru"), "/audit 5")
        assert "повторная проверка супервайзером" in trail.text
        assert not english_words(trail.text)
        assert utcnow() >= after.final_at


async def test_a_recheck_without_a_final_answer_goes_back_to_the_resolver(
    controlled: Any, telegram: FakeTelegram
) -> None:
    async with controlled(pending_retry_min=600.0, pending_retry_max=600.0) as h:
        cashier, boss = h.user(), h.user(SUPERVISOR)
        _card, status, payment = await _given_up(h, cashier)
        h.sandbox.faults.append("http500")  # Allpay does not answer this time
        reply = await h.say(boss, f"/recheck {payment.guid}")
        assert "still no final answer" in reply.text
        after = await h.journal.get_payment(payment.guid)
        assert after is not None and after.status is Status.PENDING
        # A fresh horizon: the resolver's alert and give-up count from the recheck.
        assert after.rechecked_at is not None and after.rechecked_at > after.created_at
        assert after.resolving_since == after.rechecked_at and after.alerted_at is None
        assert payment.guid in {p.guid for p in await h.journal.open_payments()}
        await telegram.wait_for(lambda: status.text.startswith("⏳"))  # the cashier sees it
