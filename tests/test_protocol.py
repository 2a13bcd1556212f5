"""Envelope shape: exactly what the contract and Allpay's XSDs say."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from bot.allpay.protocol import (
    SERVICE_NS,
    SOAP_NS,
    TM_SERVICE_NS,
    build_available_balance,
    build_cash_in,
    build_check_user,
    format_amount,
)
from bot.devtools.sandbox import TM_PATH, wsdl_schema
from bot.domain.masking import mask_login
from tests.fixtures import ALMATY

GUID = "{0fa01736-c5a8-44d4-8571-10a5df9337d3}"
NOW = datetime(2026, 11, 28, 12, 30, tzinfo=ALMATY)


def _cash_in(**kw: object) -> etree._Element:
    args: dict[str, object] = {
        "guid": GUID,
        "login": "77010000001",
        "amount": Decimal(5000),
        "lang": "kk",
        "timestamp": NOW,
        "requester": "agent",
    }
    args.update(kw)
    return build_cash_in(**args)  # type: ignore[arg-type]


def test_cash_in_envelope_shape() -> None:
    root = _cash_in()
    body = root.find(f"{{{SOAP_NS}}}Body")
    assert body is not None
    op = body[0]
    assert op.tag == f"{{{SERVICE_NS}}}createCashInPayment"
    request = op[0]
    assert request.tag == "CashInRequest"  # unqualified
    assert [c.tag for c in request] == ["header", "toUserName", "amount", "GUID"]
    assert [c.tag for c in request[0]] == ["lang", "timestamp", "requester"]  # no empty token
    assert request.findtext("header/lang") == "kk"
    assert request.findtext("header/timestamp") == "2026-11-28T12:30:00.000+05:00"
    assert request.findtext("amount") == "5000"
    assert request.findtext("GUID") == GUID
    for el in request.iter():
        assert etree.QName(el).namespace is None


def test_token_is_sent_when_set() -> None:
    request = _cash_in(token="123456")[1][0][0]
    assert [c.tag for c in request[0]] == ["lang", "timestamp", "requester", "token"]


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal(5000), "5000"),
        (Decimal("5E+3"), "5000"),
        (Decimal("100.50"), "100.5"),
        (Decimal("500000"), "500000"),
    ],
)
def test_amount_is_a_plain_decimal(amount: Decimal, text: str) -> None:
    assert format_amount(amount) == text


@pytest.mark.parametrize("amount", [Decimal(0), Decimal(-1), Decimal("NaN"), Decimal("Infinity")])
def test_bad_amounts_are_refused(amount: Decimal) -> None:
    with pytest.raises(ValueError, match="amount"):
        format_amount(amount)


def test_refuses_naive_timestamps_bad_guids_and_kz() -> None:
    with pytest.raises(ValueError, match="timezone"):
        _cash_in(timestamp=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="GUID"):
        _cash_in(guid=GUID.strip("{}"))
    with pytest.raises(ValueError, match="lang"):
        _cash_in(lang="kz")


def test_requests_validate_against_the_sandbox_wsdl_schema() -> None:
    schema = wsdl_schema()
    schema.assertValid(_cash_in()[1][0])
    schema.assertValid(
        build_check_user(login="77010000001", lang="ru", timestamp=NOW, requester="a")[1][0]
    )
    missing_amount = _cash_in()[1][0]
    request = missing_amount[0]
    amount = request.find("amount")
    assert amount is not None
    request.remove(amount)
    assert not schema.validate(missing_amount)
    extra = _cash_in()[1][0]
    extra[0].append(etree.Element("extra"))
    assert not schema.validate(extra)


def test_balance_request_is_the_transaction_management_operation() -> None:
    root = build_available_balance(lang="ru", timestamp=NOW, requester="agent", token="123456")
    op = root[1][0]
    assert op.tag == f"{{{TM_SERVICE_NS}}}availableBalance"
    assert [c.tag for c in op] == ["AvailableBalanceRequest"]
    assert [c.tag for c in op[0][0]] == ["lang", "timestamp", "requester", "token"]
    wsdl_schema(TM_PATH).assertValid(op)
    assert not wsdl_schema().validate(op)  # not an operation of the Cash-In service


def test_requests_validate_against_allpays_published_xsds(shared: Path) -> None:
    """Each request's inner element is valid as Allpay's own complexType in its own XSD."""
    xsd = shared / "allpay" / "xsd"
    cases = [
        ("OnlineTransactionCashIn.xsd", "cashInRequest", _cash_in()[1][0][0]),
        (
            "OnlineTransactionCheckUser.xsd",
            "checkUserRequest",
            build_check_user(login="77010000001", lang="en", timestamp=NOW, requester="a")[1][0][0],
        ),
        (
            "OnlineTransactionAvailableBalance.xsd",
            "availableBalanceRequest",
            build_available_balance(lang="kk", timestamp=NOW, requester="a")[1][0][0],
        ),
    ]
    for file, type_name, element in cases:
        target = etree.parse(str(xsd / file)).getroot().get("targetNamespace")
        wrapper = etree.fromstring(
            f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="{target}" '
            f'targetNamespace="urn:wrap"><xs:import namespace="{target}" '
            f'schemaLocation="{(xsd / file).as_uri()}"/>'
            f'<xs:element name="{element.tag}" type="t:{type_name}"/></xs:schema>'.encode()
        )
        schema = etree.XMLSchema(wrapper)
        doc = etree.Element(f"{{urn:wrap}}{element.tag}")
        doc.extend(list(element))
        schema.assertValid(doc)


def test_mask_login() -> None:
    assert mask_login("77010000001") == "7701***0001"


def test_a_clients_name_from_allpay_is_cleaned_and_bounded() -> None:
    """/history lists names: a bidi override cannot reorder what is shown next to it, and a
    name cannot grow a page past Telegram's limit."""
    from bot.allpay.answers import ClientInfo

    info = ClientInfo(
        identified=True, iin=None, first_name="Ай\u202eгүл" + "а" * 300, last_name="Қ\u200bасым"
    )
    assert "\u202e" not in info.full_name and "\u200b" not in info.full_name
    assert info.full_name.startswith("Қасым Айгүл") and len(info.full_name) <= 64
