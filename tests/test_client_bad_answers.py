"""Every bad answer maps to the contract's outcome; none raises out of ``pay``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from aiohttp import web
from lxml import etree

from bot.allpay.protocol import (
    OP_CASH_IN,
    OP_CHECK_AND_VALIDATE,
    SERVICE_NS,
    AllpayError,
    AllpayErrorKind,
    PayStatus,
    new_envelope,
    parse_document,
    serialize,
)
from bot.allpay.signing import Signer, Verifier, request_dsig_element
from bot.devtools.sandbox import RunningSandbox
from tests.fixtures import make_client
from tests.harness import free_port

GUID = "{0fa01736-c5a8-44d4-8571-10a5df9337d3}"
Start = Callable[[Callable[[web.Request], Awaitable[web.StreamResponse]]], Awaitable[str]]


def signed_answer(
    sandbox: RunningSandbox,
    request_body: bytes,
    *,
    status: str | None = "COMPLETED",
    operation: str = OP_CASH_IN,
    namespace: str = SERVICE_NS,
    dsig: str | None = None,
    sign: bool = True,
    header_fields: tuple[str, ...] = ("userMessage", "developerMessage", "status", "timestamp"),
    basic_user_info: bool = True,
) -> bytes:
    """An answer as Allpay would sign it for this request, with optional defects."""
    request = parse_document(request_body)
    digest = Verifier.from_file(sandbox.keys.agent_public).verify(request).digest
    root, _ = new_envelope(f"{operation}Response", namespace)
    op = root[1][0]
    ret = etree.SubElement(op, "return")
    header = etree.SubElement(ret, "header")
    values = {
        "userMessage": "ok",
        "developerMessage": "dev",
        "status": "0",
        "timestamp": "2026-11-28T12:00:00+05:00",
    }
    for name in header_fields:
        etree.SubElement(header, name).text = values[name]
    if operation == OP_CASH_IN and status is not None:
        etree.SubElement(ret, "terminalPaymentTransactionStatus").text = status
    if operation == OP_CHECK_AND_VALIDATE and basic_user_info:
        info = etree.SubElement(ret, "basicUserInfo")
        etree.SubElement(info, "identified").text = "true"
    if sign:
        Signer.from_file(sandbox.keys.allpay_private, None).sign(
            root, extra_header=[request_dsig_element(dsig or digest)]
        )
    return serialize(root)


def xml(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="text/xml")


FAULT = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b"<soap:Fault><faultcode>soap:Client</faultcode><faultstring>Sign Error: bad sign or "
    b"authorization token</faultstring></soap:Fault></soap:Body></soap:Envelope>"
)
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol3;
</soap:Body></soap:Envelope>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&x;
</soap:Body></soap:Envelope>"""


def _cases(sandbox: RunningSandbox) -> dict[str, Callable[[bytes], web.StreamResponse]]:
    def good(**kw: object) -> Callable[[bytes], web.StreamResponse]:
        return lambda body: xml(signed_answer(sandbox, body, **kw))  # type: ignore[arg-type]

    return {
        "truncated": lambda b: xml(signed_answer(sandbox, b)[:-40]),
        "empty": lambda b: xml(b""),
        "html error page": lambda b: web.Response(
            status=502,
            text="<html><body><h1>502 Bad Gateway</h1></body></html>",
            content_type="text/html",
        ),
        "html page with 200": lambda b: web.Response(
            text="<html><body>Maintenance</body></html>", content_type="text/html"
        ),
        "1 MB+ body": lambda b: xml(b"<a>" + b"x" * (1024 * 1024 + 10) + b"</a>"),
        "entity bomb": lambda b: xml(BOMB),
        "external entity": lambda b: xml(XXE),
        "unknown status": good(status="FAILED"),
        "missing status": good(status=None),
        "missing header field": good(header_fields=("userMessage", "status", "timestamp")),
        "wrong namespace": good(namespace="http://www.allpay.kz/mfs/soap/Other/1.0"),
        "wrong operation": good(operation="createCashOutPayment"),
        "unsigned": good(sign=False),
        "bad signature": lambda b: xml(
            signed_answer(sandbox, b).replace(b"<userMessage>ok<", b"<userMessage>OK<")
        ),
        "requestDsig of another request": good(dsig="AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        "SOAP Fault with HTTP 500": lambda b: xml(FAULT, 500),
        "SOAP Fault with HTTP 200": lambda b: xml(FAULT, 200),
        "valid answer with HTTP 500": lambda b: xml(signed_answer(sandbox, b), 500),
    }


CASE_NAMES = [
    "truncated",
    "empty",
    "html error page",
    "html page with 200",
    "1 MB+ body",
    "entity bomb",
    "external entity",
    "unknown status",
    "missing status",
    "missing header field",
    "wrong namespace",
    "wrong operation",
    "unsigned",
    "bad signature",
    "requestDsig of another request",
    "SOAP Fault with HTTP 500",
    "SOAP Fault with HTTP 200",
    "valid answer with HTTP 500",
]


def test_case_list_is_complete(sandbox: RunningSandbox) -> None:
    assert sorted(CASE_NAMES) == sorted(_cases(sandbox))


async def test_the_fake_answers_completed_when_nothing_is_wrong(
    sandbox: RunningSandbox, fake_allpay: Start
) -> None:
    """The control: the same fake, undamaged, is believed — so each case below tests its defect."""

    async def respond(request: web.Request) -> web.StreamResponse:
        return xml(signed_answer(sandbox, await request.read()))

    async with make_client(sandbox, url=await fake_allpay(respond)) as client:
        result = await client.pay(GUID, "77010000001", Decimal(5000), "ru")
    assert result.status is PayStatus.COMPLETED and result.cause is None


@pytest.mark.parametrize("case", CASE_NAMES)
async def test_pay_bad_answer_is_pending(
    sandbox: RunningSandbox, fake_allpay: Start, case: str
) -> None:
    make = _cases(sandbox)[case]

    async def respond(request: web.Request) -> web.StreamResponse:
        return make(await request.read())

    async with make_client(sandbox, url=await fake_allpay(respond)) as client:
        result = await client.pay(GUID, "77010000001", Decimal(5000), "ru")
    assert result.status is PayStatus.PENDING
    assert result.cause  # the cause is carried for the journal and the logs
    assert result.header is None


# "unknown status" and "missing status" are defects of a payment answer only.
CHECK_CASE_NAMES = [c for c in CASE_NAMES if c not in {"unknown status", "missing status"}]


@pytest.mark.parametrize("case", CHECK_CASE_NAMES)
async def test_check_bad_answer_is_a_typed_error(
    sandbox: RunningSandbox, fake_allpay: Start, case: str
) -> None:
    make = _cases(sandbox)[case]

    async def respond(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if case in {
            "wrong namespace",
            "wrong operation",
            "unsigned",
            "bad signature",
            "requestDsig of another request",
            "missing header field",
            "valid answer with HTTP 500",
        }:
            kw: dict[str, object] = {"operation": OP_CHECK_AND_VALIDATE}
            if case == "wrong operation":
                kw["operation"] = "checkUser"
            mutated = {
                "wrong namespace": {"namespace": "http://www.allpay.kz/other"},
                "unsigned": {"sign": False},
                "requestDsig of another request": {"dsig": "AAAA"},
                "missing header field": {"header_fields": ("userMessage", "status", "timestamp")},
            }.get(case, {})
            kw.update(mutated)
            answer = signed_answer(sandbox, body, **kw)  # type: ignore[arg-type]
            if case == "bad signature":
                answer = answer.replace(b"<userMessage>ok<", b"<userMessage>OK<")
            return xml(answer, 500 if case == "valid answer with HTTP 500" else 200)
        return make(body)

    async with make_client(sandbox, url=await fake_allpay(respond)) as client:
        with pytest.raises(AllpayError) as info:
            await client.check_user("77010000001", "ru")
    expected = {
        "SOAP Fault with HTTP 500": AllpayErrorKind.FAULT,
        "SOAP Fault with HTTP 200": AllpayErrorKind.FAULT,
        "html error page": AllpayErrorKind.UNAVAILABLE,
        "valid answer with HTTP 500": AllpayErrorKind.UNAVAILABLE,
    }.get(case, AllpayErrorKind.INVALID)
    assert info.value.kind is expected


async def test_connection_refused(sandbox: RunningSandbox) -> None:
    url = f"http://127.0.0.1:{free_port()}/soap"
    async with make_client(sandbox, url=url) as client:
        result = await client.pay(GUID, "77010000001", Decimal(5000), "ru")
        assert result.status is PayStatus.PENDING and result.cause
        assert result.cause.startswith("connection")
        with pytest.raises(AllpayError) as info:
            await client.check_user("77010000001", "ru")
        assert info.value.kind is AllpayErrorKind.UNAVAILABLE


async def test_read_timeout(sandbox: RunningSandbox, fake_allpay: Start) -> None:
    release = asyncio.Event()

    async def respond(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return xml(b"")

    async with make_client(sandbox, url=await fake_allpay(respond), timeout=0.2) as client:
        result = await client.pay(GUID, "77010000001", Decimal(5000), "ru")
        assert result.status is PayStatus.PENDING and result.cause
        assert result.cause.startswith("timeout")
        with pytest.raises(AllpayError) as info:
            await client.check_user("77010000001", "ru")
        assert info.value.kind is AllpayErrorKind.UNAVAILABLE
    release.set()
