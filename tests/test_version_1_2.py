"""Cash-In 1.2 (the contract, section 8): the same conversation against the sandbox with
ALLPAY_API_VERSION=1.2 — every request in the 1.2 namespaces, every answer parsed in them,
signatures unchanged — and ``echo`` in both versions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from bot.allpay.answers import parse_echo_answer
from bot.allpay.protocol import (
    SERVICE_NS,
    ApiVersion,
    InvalidAnswer,
    build_available_balance,
    build_cash_in,
    build_check_user,
    build_echo,
    new_envelope,
)
from tests.harness import CASHIER

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CASHIN_1_2 = "http://www.innopay.kz/mfs/soap/CashInTransactionManagement/1.2"
TM_1_2 = "http://www.innopay.kz/mfs/soap/TransactionManagement/1.2"


def _operation(root: etree._Element) -> etree.QName:
    return etree.QName(root[1][0])


def test_requests_carry_the_version_namespace_and_nothing_else_changes() -> None:
    common = {"lang": "ru", "timestamp": NOW, "requester": "agent"}
    pay = {"guid": "{0f8fad5b-d9cb-469f-a165-70867728950e}", "login": "77000000001"}
    for version, cashin, tm in (
        (ApiVersion.V1_1, SERVICE_NS, "http://www.allpay.kz/mfs/soap/TransactionManagement/1.1"),
        (ApiVersion.V1_2, CASHIN_1_2, TM_1_2),
    ):
        check = build_check_user(login="77000000001", version=version, **common)
        cash_in = build_cash_in(amount=Decimal(5000), version=version, **pay, **common)
        balance = build_available_balance(version=version, **common)
        assert _operation(check).namespace == cashin
        assert _operation(cash_in).namespace == cashin
        assert _operation(balance).namespace == tm
        assert _operation(build_echo("ping", version)).namespace == cashin
        # Inside the operation everything stays unqualified, in the same order.
        assert [c.tag for c in cash_in[1][0][0]] == ["header", "toUserName", "amount", "GUID"]


def test_an_answer_in_the_other_version_is_not_believed() -> None:
    root, op = new_envelope("echoResponse", SERVICE_NS)  # a 1.1 answer
    etree.SubElement(op, "return").text = "ping"
    assert parse_echo_answer(root[1][0], ApiVersion.V1_1) == "ping"
    with pytest.raises(InvalidAnswer):
        parse_echo_answer(root[1][0], ApiVersion.V1_2)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_whole_conversation_and_echo_against_the_sandbox(
    controlled: Any, version: str
) -> None:
    async with controlled(allpay_api_version=version) as h:
        user = h.user()
        card = await h.top_up_card(user, "77000000001", "2000")  # ⏳ first, then ✅
        await h.press(user, card, "Confirm")
        await h.wait_status(CASHIER, card.message_id, "✅")
        assert "Agent balance" in (await h.say(h.user(300), "/balance")).text
        assert await h.app.allpay.echo("ping · пинг") == "ping · пинг"  # signed both ways
        seen = h.sandbox.stats.namespaces
        expected = (
            {CASHIN_1_2, TM_1_2}
            if version == "1.2"
            else {SERVICE_NS, "http://www.allpay.kz/mfs/soap/TransactionManagement/1.1"}
        )
        assert set(seen) == expected, seen
        assert h.sandbox.stats.requests["createCashInPayment"] == 2  # one GUID, resent once
        assert len(set(h.sandbox.stats.pay_guids)) == 1
        assert h.app.allpay.url.endswith(f"/v{version}")
