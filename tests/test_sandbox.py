"""The client against the embedded sandbox over real HTTP, signed both ways."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from lxml import etree

from bot.allpay.client import AllpayClient
from bot.allpay.protocol import (
    AllpayError,
    AllpayErrorKind,
    PayStatus,
    build_cash_in,
    serialize,
)
from bot.allpay.signing import Signer, Verifier, generate_key_pair
from bot.devtools.sandbox import RunningSandbox, start_sandbox, wsdl_schema
from tests.fixtures import ALMATY, make_client, sandbox_folder


def new_guid() -> str:
    return f"{{{uuid.uuid4()}}}"


@pytest.mark.parametrize(
    ("login", "identified", "answers"),
    [
        ("77000000001", True, ["PENDING", "COMPLETED", "COMPLETED"]),
        ("77000000002", False, ["COMPLETED", "COMPLETED"]),
        ("77000000003", True, ["DECLINED", "DECLINED"]),
        ("77000000004", True, ["PENDING", "COMPLETED"]),  # first: our timeout
        ("77000000005", True, ["PENDING", "COMPLETED"]),  # first: HTTP 500
    ],
)
async def test_scripted_clients(
    sandbox: RunningSandbox, login: str, identified: bool, answers: list[str]
) -> None:
    sandbox.sandbox.slow_delay = 1.0
    async with make_client(sandbox, timeout=0.3) as client:
        check = await client.check_user(login, "ru")
        assert check.client is not None and check.client.identified is identified
        guid = new_guid()
        seen = [(await client.pay(guid, login, Decimal(5000), "ru")) for _ in answers]
    assert [r.status.value for r in seen] == answers
    if login == "77000000003":
        assert seen[0].user_message and "заблокирован" in seen[0].user_message
    if login == "77000000004":
        assert seen[0].cause and seen[0].cause.startswith("timeout")
    if login == "77000000005":
        assert seen[0].cause == "http: HTTP 500"
    rows = await sandbox.sandbox.ledger.all()
    assert [(r.guid, r.status.value) for r in rows] == [(guid, answers[-1])]
    assert rows[0].requests == len(answers)


async def test_unknown_login_is_not_found_and_cannot_be_paid(client: AllpayClient) -> None:
    check = await client.check_user("77011112233", "en")
    assert not check.found and check.header.user_message == "User not found"
    result = await client.pay(new_guid(), "77011112233", Decimal(1000), "en")
    assert result.status is PayStatus.DECLINED


async def test_resending_a_guid_never_creates_a_second_payment(
    sandbox: RunningSandbox, client: AllpayClient
) -> None:
    guid = new_guid()
    for _ in range(5):
        await client.pay(guid, "77000000002", Decimal(700), "ru")
    rows = await sandbox.sandbox.ledger.all()
    assert len(rows) == 1 and rows[0].requests == 5
    balance = await sandbox.sandbox.ledger.balance("agent-test")
    assert balance == Decimal(100_000_000) - 700  # debited once


async def test_same_guid_other_amount_is_refused_and_stays_pending(client: AllpayClient) -> None:
    guid = new_guid()
    assert (await client.pay(guid, "77000000002", Decimal(700), "ru")).status.is_final
    other = await client.pay(guid, "77000000002", Decimal(701), "ru")
    assert other.status is PayStatus.PENDING and other.cause and "GUID" in other.cause


async def test_unidentified_wallet_limit(client: AllpayClient) -> None:
    result = await client.pay(new_guid(), "77000000002", Decimal(150_000), "kk")
    assert result.status is PayStatus.DECLINED and result.user_message
    assert "лимит" in result.user_message


async def test_ledger_survives_a_sandbox_restart(tmp_path: Path, sandbox_keys: Path) -> None:
    folder = sandbox_folder(tmp_path, sandbox_keys)
    guid = new_guid()
    first = await start_sandbox(folder)
    try:
        async with make_client(first) as client:
            assert (
                await client.pay(guid, "77000000001", Decimal(900), "ru")
            ).status.value == "PENDING"
    finally:
        await first.close()
    second = await start_sandbox(folder)
    try:
        async with make_client(second) as client:
            result = await client.pay(guid, "77000000001", Decimal(900), "ru")
        assert result.status is PayStatus.COMPLETED
        assert len(await second.sandbox.ledger.all()) == 1
    finally:
        await second.close()


async def test_language_reaches_the_sandbox(sandbox: RunningSandbox, client: AllpayClient) -> None:
    check = await client.check_user("77000000001", "kk")
    assert check.header.user_message == "Клиент табылды"
    assert sandbox.sandbox.stats.langs == ["kk"]


async def test_unsigned_or_foreign_requests_get_the_sign_fault(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    request = build_cash_in(
        guid=new_guid(),
        login="77000000002",
        amount=Decimal(1),
        lang="ru",
        timestamp=__import__("datetime").datetime.now(ALMATY),
        requester="x",
    )
    async with aiohttp.ClientSession() as session:
        async with session.post(sandbox.url, data=serialize(request)) as response:
            assert response.status == 500
            assert "Sign Error" in await response.text()
        Signer.from_file(sandbox.keys.allpay_private, "SANDBOX-0001").sign(request)  # wrong key
        async with session.post(sandbox.url, data=serialize(request)) as response:
            assert response.status == 500
            assert "Sign Error" in await response.text()
    assert sandbox.sandbox.stats.rejected_signatures == 2
    assert await sandbox.sandbox.ledger.all() == []


async def test_schema_invalid_request_is_a_client_fault(sandbox: RunningSandbox) -> None:
    request = build_cash_in(
        guid=new_guid(),
        login="77000000002",
        amount=Decimal(1),
        lang="ru",
        timestamp=__import__("datetime").datetime.now(ALMATY),
        requester="x",
    )
    request[1][0][0].append(etree.Element("surprise"))
    Signer.from_file(sandbox.keys.agent_private, sandbox.keys.certificate_number).sign(request)
    async with (
        aiohttp.ClientSession() as session,
        session.post(sandbox.url, data=serialize(request)) as response,
    ):
        assert response.status == 500
        assert "Unmarshalling Error" in await response.text()
    assert sandbox.sandbox.stats.rejected_schema == 1


async def test_wsdl_is_served_and_describes_the_service(sandbox: RunningSandbox) -> None:
    async with aiohttp.ClientSession() as session, session.get(sandbox.url + "?wsdl") as response:
        assert response.status == 200
        wsdl = etree.fromstring(await response.read())
    ns = {"w": "http://schemas.xmlsoap.org/wsdl/", "s": "http://schemas.xmlsoap.org/wsdl/soap/"}
    operations = {op.get("name") for op in wsdl.findall("w:portType/w:operation", ns)}
    assert operations == {"echo", "checkUser", "checkUserAndValidateCashIn", "createCashInPayment"}
    assert wsdl.find(".//s:address", ns).get("location") == sandbox.url  # type: ignore[union-attr]
    assert wsdl_schema() is not None


async def test_sandbox_says_it_is_a_sandbox(
    tmp_path: Path, sandbox_keys: Path, caplog: pytest.LogCaptureFixture
) -> None:
    running = await start_sandbox(sandbox_folder(tmp_path, sandbox_keys))
    await running.close()
    assert any(
        "ALLPAY SANDBOX" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records
    )


async def test_balance_is_signed_served_and_drops_as_the_sandbox_pays(
    sandbox: RunningSandbox,
) -> None:
    async with make_client(sandbox, url=sandbox.url) as client:
        client.tm_url = sandbox.tm_url
        before = await client.available_balance("kk")
        assert before.amount == Decimal(100_000_000) and before.header.user_message
        guid = new_guid()
        for _ in range(2):  # PENDING first, then final
            result = await client.pay(guid, "77000000001", Decimal(1234), "ru")
        assert result.status is PayStatus.COMPLETED
        after = await client.available_balance("ru")
    assert after.amount == Decimal(100_000_000 - 1234)
    assert sandbox.sandbox.stats.requests["availableBalance"] == 2
    async with (
        aiohttp.ClientSession() as session,
        session.get(sandbox.tm_url + "?wsdl") as response,
    ):
        wsdl = etree.fromstring(await response.read())
    assert wsdl.get("name") == "TransactionManagementService"


async def test_a_balance_answer_that_does_not_verify_is_refused(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The balance request sent to the Cash-In address gets a Fault; an answer that does not
    verify with the key we trust is refused, not shown."""
    async with make_client(sandbox) as client:
        client.tm_url = sandbox.url  # the wrong service: schema-invalid there
        with pytest.raises(AllpayError) as info:
            await client.available_balance("ru")
        assert info.value.kind is AllpayErrorKind.FAULT
    generate_key_pair(tmp_path / "other.pem", tmp_path / "other.pub.pem", bits=1024)
    keys = sandbox.keys
    async with AllpayClient(
        sandbox.url,
        requester="agent-test",
        signer=Signer.from_file(keys.agent_private, keys.certificate_number),
        verifier=Verifier.from_file(tmp_path / "other.pub.pem"),
        timeout=1.0,
        tm_url=sandbox.tm_url,
        tz=ALMATY,
    ) as client:
        with pytest.raises(AllpayError) as info:
            await client.available_balance("ru")
        assert info.value.kind is AllpayErrorKind.INVALID
