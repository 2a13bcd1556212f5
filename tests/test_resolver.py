"""Resolver: alerts for stuck payments, UNKNOWN after giving up; outbox honours 429."""

from __future__ import annotations

import asyncio
from datetime import UTC
from decimal import Decimal
from typing import Any

import pytest

from bot.allpay.answers import CheckResult, PayResult
from bot.allpay.protocol import PayStatus
from bot.devtools.telegram import FakeTelegram, Fault
from bot.domain.limits import Limits
from bot.domain.model import OutboxKind, RetryPolicy, Status
from bot.domain.parsing import (
    AmountError,
    AmountProblem,
    format_login,
    normalize_login,
    parse_amount,
)
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.cashin import CashIn
from bot.usecases.notices import Notices
from bot.usecases.resolver import Resolver
from bot.usecases.sending import Sender
from tests.fixtures import Connect
from tests.harness import CASHIER, SUPERVISOR_CHAT, Harness
from tests.journal import Journal

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends


class NoDirectory:
    async def check_user(self, login: str, lang: str) -> CheckResult:
        raise AssertionError("not asked in this test")


class AlwaysPending:
    def __init__(self) -> None:
        self.guids: list[str] = []

    async def pay(self, guid: str, login: str, amount: Decimal, lang: str) -> PayResult:
        self.guids.append(guid)
        return PayResult(PayStatus.PENDING, cause="timeout: test")


async def test_stuck_payment_alerts_once_then_becomes_unknown(
    connect: Connect,
) -> None:
    db = await connect()
    try:
        journal = Journal(db, [SUPERVISOR_CHAT])
        gateway = AlwaysPending()
        policy = RetryPolicy(0.01, 0.02, alert_after=0.05, give_up_after=0.3)
        changed = asyncio.Event()
        notices = Notices([SUPERVISOR_CHAT])
        notices.wake = changed.set  # by every alert, status change and give-up
        sender = Sender(db, gateway, policy, notices, requester="a")
        desk = ApprovalDesk(db, sender, notices, timeout=900)
        cashin = CashIn(db, NoDirectory(), sender, desk, Limits(), tz=UTC)
        resolver = Resolver(sender)
        draft = await journal.create_draft(
            cashier_id=CASHIER,
            chat_id=CASHIER,
            login="77000000001",
            client_name="X",
            identified=True,
            amount=Decimal(100),
            lang="ru",
            card_message_id=1,
        )
        payment = (await cashin.confirm(draft.id, CASHIER, chat_id=CASHIER, message_id=1)).payment
        assert payment is not None
        resolver.start()

        async def status() -> Status:
            current = await journal.get_payment(payment.guid)
            assert current is not None
            return current.status

        async with asyncio.timeout(10):
            while await status() is not Status.UNKNOWN:
                await changed.wait()  # set by every alert, status change and give-up
                changed.clear()
        await resolver.stop()
        assert set(gateway.guids) == {payment.guid} and len(gateway.guids) >= 3
        kinds = [i.kind for i in await journal.due_outbox(payment.created_at.replace(year=2100))]
        assert kinds.count(OutboxKind.ALERT) == 1
        assert OutboxKind.FINAL in kinds and OutboxKind.STATUS in kinds
    finally:
        await db.close()


async def test_notifications_honour_retry_after(harness: Harness) -> None:
    harness.tg.faults.append(
        Fault(
            "sendMessage",
            429,
            "Too Many Requests: retry after 1",
            retry_after=1,
            chat_id=SUPERVISOR_CHAT,
        )
    )
    user = harness.user()
    card = await harness.top_up_card(user, "77000000002", "1000")
    await harness.press(user, card, "Confirm")
    await harness.wait_status(CASHIER, card.message_id, "✅")
    note = await harness.tg.wait_message(SUPERVISOR_CHAT, lambda m: m.text.startswith("✅"))
    assert note
    sends = [
        p
        for m, p in harness.tg.calls
        if m == "sendMessage" and str(p.get("chat_id")) == str(SUPERVISOR_CHAT)
    ]
    assert len(sends) == 2  # refused once with 429, delivered after retry_after
    assert harness.app.pacer.refused == 1 and harness.app.pacer.retried == 1


async def test_a_status_edit_that_fails_becomes_a_new_message(harness: Harness) -> None:
    user = harness.user()
    card = await harness.top_up_card(user, "77000000001", "1000")
    await harness.press(user, card, "Confirm")
    await harness.tg.wait_message(CASHIER, lambda m: m.text.startswith("⏳ Allpay"))
    harness.tg.faults.append(
        Fault("editMessageText", 400, "Bad Request: message to edit not found")
    )
    done = await harness.tg.wait_message(CASHIER, lambda m: m.text.startswith("✅"))
    assert done.message_id != card.message_id


@pytest.mark.parametrize(
    ("typed", "login"),
    [
        ("+7 701 000 00 01", "77010000001"),
        ("8 (701) 000-00-01", "77010000001"),
        ("77010000001", "77010000001"),
        ("7010000001", "77010000001"),
        ("+8 701", None),
        ("hello", None),
        ("123", None),
        ("+1 202 555 0100", None),
        ("７７０１００００００１", None),
    ],
)
def test_login_normaliser(typed: str, login: str | None) -> None:
    assert normalize_login(typed) == login


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("0", AmountProblem.NOT_POSITIVE),
        ("-1", AmountProblem.NOT_POSITIVE),
        ("1.5", AmountProblem.NOT_WHOLE),
        ("1e3", AmountProblem.NOT_A_NUMBER),
        ("abc", AmountProblem.NOT_A_NUMBER),
        ("99", AmountProblem.TOO_SMALL),
        ("500001", AmountProblem.TOO_LARGE),
        ("5 00", AmountProblem.NOT_A_NUMBER),
        ("", AmountProblem.NOT_A_NUMBER),
        ("NaN", AmountProblem.NOT_A_NUMBER),
    ],
)
def test_amount_parser_rejects(typed: str, problem: AmountProblem) -> None:
    with pytest.raises(AmountError) as info:
        parse_amount(typed, Decimal(100), Decimal(500000))
    assert info.value.problem is problem


@pytest.mark.parametrize(
    ("typed", "amount"), [("5000", 5000), ("5 000", 5000), ("5000 ₸", 5000), ("100", 100)]
)
def test_amount_parser_accepts(typed: str, amount: int) -> None:
    assert parse_amount(typed, Decimal(100), Decimal(500000)) == Decimal(amount)


async def test_telegram_failing_right_after_confirm_does_not_delay_the_send(
    controlled: Any, telegram: FakeTelegram
) -> None:
    """The card edit after the journal commit fails (5xx): the payment is still sent at once,
    not PENDING_RETRY_MIN (an hour here) later by the resolver."""
    async with controlled(pending_retry_min=3600, pending_retry_max=3600) as h:
        user = h.user()
        card = await h.top_up_card(user, "77000000002", "1000")
        telegram.faults.append(Fault("editMessageText", 502, "Bad Gateway", chat_id=CASHIER))
        telegram.faults.append(Fault("answerCallbackQuery", 400, "Bad Request: query is too old"))
        telegram.press_button(user, card, "Confirm")
        done = await h.wait_status(CASHIER, card.message_id, "✅", timeout=5)
        assert done.message_id == card.message_id
        assert [label for label, _ in done.callback_buttons] == [
            "🧾 Receipt",
            "🔁 Again for this client",
        ]
        assert len(await h.sandbox.ledger.all()) == 1


@pytest.mark.parametrize(
    ("login", "shown"),
    [
        ("77010000001", "+7 701 000 00 01"),
        ("77000000002", "+7 700 000 00 02"),
        ("87010000001", "87010000001"),  # not how the bot stores a Kazakh number: as typed
        ("12345678", "12345678"),
    ],
)
def test_a_login_is_shown_as_people_write_a_phone_number(login: str, shown: str) -> None:
    assert format_login(login) == shown
    assert normalize_login(format_login(login)) == normalize_login(login)
