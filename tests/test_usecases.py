"""The money steps as use cases: a real SQLite journal, Allpay a scripted gateway, no
Telegram, no HTTP. The base of the pyramid above the domain's own rules (tests/test_limits.py):
what a confirm journals, what is sent and how often, what a limit or an approval changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.allpay.answers import CheckResult, ClientInfo, PayResult, ResponseHeader
from bot.allpay.protocol import PayStatus
from bot.domain.clock import utcnow
from bot.domain.model import ConfirmOutcome, Decision, Draft
from bot.store.backends import open_database
from bot.store.db import Database
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.cashin import AmountStep, CashIn
from bot.usecases.lookup import Found
from bot.usecases.sending import Sender
from bot.wiring.builders import build_use_cases
from tests.fixtures import start_from
from tests.harness import ADMIN, CASHIER, SUPERVISOR, settings_for

KNOWN = "77000000002"


def _header() -> ResponseHeader:
    return ResponseHeader("OK", "test", 0, datetime.now(UTC))


@dataclass
class ScriptedAllpay:
    """Allpay as the use cases see it: who a login is, and each payment's answers in turn
    (the last one repeats)."""

    requester: str = "agent-test"
    answers: list[PayStatus] = field(default_factory=lambda: [PayStatus.COMPLETED])
    paid: list[str] = field(default_factory=list)  # GUIDs, one per createCashInPayment

    async def check_user(self, login: str, lang: str) -> CheckResult:
        client = ClientInfo(True, "900101300123", "Анна", "Иванова") if login == KNOWN else None
        return CheckResult(_header(), client)

    async def pay(self, guid: str, login: str, amount: Decimal, lang: str) -> PayResult:
        status = self.answers[min(len(self.paid), len(self.answers) - 1)]
        self.paid.append(guid)
        return PayResult(status, _header())


@dataclass
class Steps:
    db: Database
    allpay: ScriptedAllpay
    sender: Sender
    desk: ApprovalDesk
    cashin: CashIn

    async def card(self, amount: str, cashier_id: int = CASHIER) -> Draft:
        """/cashin → the known client's login → ``amount``: the open card."""
        await self.cashin.begin(cashier_id)
        check = await self.cashin.check_login(cashier_id, cashier_id, KNOWN, "ru")
        assert check.found is Found.CLIENT and check.draft is not None
        amounted = await self.cashin.enter_amount(check.draft.id, cashier_id, Decimal(amount))
        assert amounted.step is AmountStep.CARD and amounted.draft is not None, amounted
        await self.cashin.card_shown(amounted.draft.id, 500)
        return amounted.draft

    async def settled(self) -> None:
        """Until every send this process started has ended."""
        await self.sender.drain(10)


async def steps_with(tmp_path: Path, migrated: Path, **settings: Any) -> AsyncIterator[Steps]:
    """The use cases as the bot builds them (``build_use_cases``), on a copy of the migrated
    journal, with Allpay scripted; ``settings``: the money controls to turn on."""
    url = f"sqlite:///{tmp_path / 'cashin.sqlite3'}"
    start_from(migrated, url)
    chosen = settings_for(
        tmp_path, "http://127.0.0.1:9", database_url=url, supervisor_chat_ids=[], **settings
    )
    db = open_database(url)
    await db.open()
    try:
        allpay = ScriptedAllpay()
        cases = await build_use_cases(chosen, db, allpay, "test", utcnow)  # type: ignore[arg-type]
        yield Steps(db, allpay, cases.sender, cases.desk, cases.cashin)
    finally:
        await db.close()


@pytest.fixture
async def steps(tmp_path: Path, migrated_journal: Path) -> AsyncIterator[Steps]:
    async for made in steps_with(tmp_path, migrated_journal):
        yield made


async def test_a_confirm_journals_one_payment_and_sends_it_once(steps: Steps) -> None:
    draft = await steps.card("5000")
    confirmed = await steps.cashin.confirm(draft.id, CASHIER, chat_id=CASHIER, message_id=500)
    assert confirmed.outcome is ConfirmOutcome.PAID and confirmed.payment is not None
    await steps.settled()
    again = await steps.cashin.confirm(draft.id, CASHIER, chat_id=CASHIER, message_id=500)
    assert again.outcome is ConfirmOutcome.STALE and again.payment is None
    await steps.settled()
    assert steps.allpay.paid == [confirmed.payment.guid]
    paid = await steps.sender.get(confirmed.payment.guid)
    assert paid is not None and paid.status.value == "COMPLETED" and paid.amount == Decimal(5000)


async def test_concurrent_confirms_of_one_card_make_one_payment(steps: Steps) -> None:
    draft = await steps.card("5000")
    results = await asyncio.gather(
        *(
            steps.cashin.confirm(draft.id, CASHIER, chat_id=CASHIER, message_id=500)
            for _ in range(5)
        )
    )
    await steps.settled()
    assert sorted(r.outcome.value for r in results) == ["paid"] + ["stale"] * 4
    assert len(steps.allpay.paid) == 1


async def test_a_pending_payment_is_resent_with_its_own_guid_until_final(steps: Steps) -> None:
    steps.allpay.answers = [PayStatus.PENDING, PayStatus.PENDING, PayStatus.COMPLETED]
    draft = await steps.card("3000")
    confirmed = await steps.cashin.confirm(draft.id, CASHIER, chat_id=CASHIER, message_id=500)
    assert confirmed.payment is not None
    guid = confirmed.payment.guid
    await steps.settled()
    for _ in range(3):
        await steps.sender.send(guid)
    final = await steps.sender.get(guid)
    assert final is not None and final.status.value == "COMPLETED"
    assert steps.allpay.paid == [guid, guid, guid]  # the third answer is final: no fourth


async def test_a_card_on_a_wrong_message_pays_nothing(steps: Steps) -> None:
    draft = await steps.card("5000")
    other = await steps.cashin.confirm(draft.id, CASHIER, chat_id=CASHIER, message_id=501)
    someone = await steps.cashin.confirm(draft.id, SUPERVISOR, chat_id=CASHIER, message_id=500)
    assert other.outcome is ConfirmOutcome.NOT_THIS_CARD
    assert someone.outcome is ConfirmOutcome.STALE
    await steps.settled()
    assert steps.allpay.paid == []


async def test_a_cancelled_card_cannot_be_confirmed(steps: Steps) -> None:
    draft = await steps.card("5000")
    await steps.cashin.cancel(CASHIER)
    late = await steps.cashin.confirm(draft.id, CASHIER, chat_id=CASHIER, message_id=500)
    await steps.settled()
    assert late.outcome is ConfirmOutcome.STALE and steps.allpay.paid == []


async def test_the_daily_count_refuses_the_next_top_up_before_any_card(
    tmp_path: Path, migrated_journal: Path
) -> None:
    async for steps in steps_with(tmp_path, migrated_journal, cashier_daily_count=1):
        draft = await steps.card("1000")
        await steps.cashin.confirm(draft.id, CASHIER, chat_id=CASHIER, message_id=500)
        await steps.settled()
        refusal = await steps.cashin.used_up(CASHIER)
        assert refusal is not None and refusal.kind.value.startswith("cashier")
        check = await steps.cashin.check_login(CASHIER, CASHIER, KNOWN, "ru")
        assert check.found is Found.LIMIT and check.draft is None
        assert len(steps.allpay.paid) == 1


async def test_an_approval_pays_once_whoever_decides_twice(
    tmp_path: Path, migrated_journal: Path
) -> None:
    async for steps in steps_with(tmp_path, migrated_journal, approval_threshold=100_000):
        draft = await steps.card("150000")
        asked = await steps.cashin.confirm(draft.id, CASHIER, chat_id=CASHIER, message_id=500)
        assert asked.outcome is ConfirmOutcome.AWAITING and asked.approval is not None
        await steps.settled()
        assert steps.allpay.paid == []  # nothing is sent before the decision
        own = await steps.desk.decide(asked.approval.id, CASHIER, approve=True)
        assert own.decision is Decision.SELF
        first = await steps.desk.decide(asked.approval.id, SUPERVISOR, approve=True)
        second = await steps.desk.decide(asked.approval.id, ADMIN, approve=True)
        assert first.decision is Decision.APPROVED and first.payment is not None
        assert second.decision is Decision.ALREADY
        await steps.settled()
        assert steps.allpay.paid == [first.payment.guid]
