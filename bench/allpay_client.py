"""Table 2: the Allpay client against its floors (bare python-xmlsec) and against zeep."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import xmlsec
from lxml import etree

from bench.common import median, table
from bot.allpay.answers import parse_pay_answer
from bot.allpay.client import AllpayClient
from bot.allpay.protocol import build_cash_in, parse_document, serialize, soap_parts
from bot.allpay.signing import Signer, Verifier, load_key, request_dsig_element

CERT = "SANDBOX-0001"


def _guid() -> str:
    return f"{{{uuid.uuid4()}}}"


def _time(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of one call, over ``repeat`` calls in 5 rounds."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            fn()
        rounds.append((time.perf_counter() - started) / repeat)
    return median(rounds)


def _request() -> etree._Element:
    return build_cash_in(
        guid=_guid(),
        login="77000000002",
        amount=Decimal(5000),
        lang="ru",
        timestamp=datetime.now(UTC),
        requester="bench-agent",
    )


def sign_and_verify_costs(keys: Path, repeat: int) -> list[list[str]]:
    signer = Signer.from_file(keys / "agent.key.pem", CERT)
    allpay_signer = Signer.from_file(keys / "allpay.key.pem", None)
    verifier = Verifier.from_file(keys / "allpay.pub.pem")
    bare_key = load_key(keys / "agent.key.pem", private=True)
    bare_public = load_key(keys / "allpay.pub.pem", private=False)

    # Ours: build the envelope and sign it (the certificate header and the template included).
    def ours_sign() -> None:
        signer.sign(_request())

    # Floor: the same document, already built; only python-xmlsec's template + sign.
    prebuilt = _request()
    header = prebuilt[0]
    etree.SubElement(header, "{https://allpay.kz}certificateNumber").text = CERT

    def floor_sign() -> None:
        root = copy.deepcopy(prebuilt)
        sig = xmlsec.template.create(
            root, xmlsec.constants.TransformExclC14NWithComments, xmlsec.constants.TransformRsaSha1
        )
        ref = xmlsec.template.add_reference(sig, xmlsec.constants.TransformSha1, uri="")
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
        root[0].append(sig)
        ctx = xmlsec.SignatureContext()
        ctx.key = bare_key
        ctx.sign(sig)

    # An answer as Allpay sends it, signed and bound to a request.
    answer_root = etree.fromstring(
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:ns="http://www.allpay.kz/mfs/soap/CashInTransactionManagement/1.1">'
        b"<soapenv:Header/><soapenv:Body><ns:createCashInPaymentResponse><return><header>"
        b"<userMessage>ok</userMessage><developerMessage>dev</developerMessage><status>0</status>"
        b"<timestamp>2026-11-28T12:00:00+05:00</timestamp></header>"
        b"<terminalPaymentTransactionStatus>COMPLETED</terminalPaymentTransactionStatus>"
        b"</return></ns:createCashInPaymentResponse></soapenv:Body></soapenv:Envelope>"
    )
    allpay_signer.sign(answer_root, extra_header=[request_dsig_element("AAAA")])
    answer = serialize(answer_root)

    def ours_verify() -> None:
        root = parse_document(answer)
        _header, payload = soap_parts(root)
        verifier.verify(root)
        parse_pay_answer(payload)

    def floor_verify() -> None:
        root = etree.fromstring(answer)
        sig = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
        ctx = xmlsec.SignatureContext()
        ctx.key = bare_public
        ctx.verify(sig)

    rows = []
    for name, ours, floor in (
        ("build + sign createCashInPayment", ours_sign, floor_sign),
        ("parse + verify an answer", ours_verify, floor_verify),
    ):
        a, b = _time(ours, repeat), _time(floor, repeat)
        rows.append([name, f"{a * 1e6:.0f} µs", f"{b * 1e6:.0f} µs", f"{a / b:.2f}", "≤ 1.2"])
    return rows


async def _throughput(
    pay: Callable[[str], Any], calls: int, concurrency: int
) -> tuple[float, float]:
    """(calls per wall second, CPU seconds of this process per call). The sandbox runs in
    another process, so the CPU figure is the client's own cost."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            await pay(_guid())

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one() for _ in range(calls)))
    return calls / (time.perf_counter() - started), (time.process_time() - cpu) / calls


def _zeep_plugin(signer: Signer, verifier: Verifier) -> Any:
    from zeep import Plugin

    class AllpaySignature(Plugin):  # type: ignore[misc]
        """What a zeep user writes for Allpay: sign the envelope, verify the answer."""

        def egress(
            self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any
        ) -> Any:
            signer.sign(envelope)
            return envelope, http_headers

        def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
            verifier.verify(envelope)
            return envelope, http_headers

    return AllpaySignature()


async def round_trips(url: str, keys: Path, calls: int, concurrency: int) -> list[list[str]]:
    import httpx
    from zeep import AsyncClient
    from zeep.transports import AsyncTransport

    signer = Signer.from_file(keys / "agent.key.pem", CERT)
    verifier = Verifier.from_file(keys / "allpay.pub.pem")
    ours = AllpayClient(
        url,
        requester="bench-agent",
        signer=signer,
        verifier=verifier,
        timeout=30,
        tz=UTC,
    )
    try:
        await ours.pay(_guid(), "77000000002", Decimal(100), "ru")  # warm
        ours_rate, ours_cpu = await _throughput(
            lambda g: ours.pay(g, "77000000002", Decimal(100), "ru"), calls, concurrency
        )
    finally:
        await ours.close()

    started = time.perf_counter()
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=64))
    transport = AsyncTransport(client=http, wsdl_client=httpx.Client())
    zeep_client = AsyncClient(
        f"{url}?wsdl", transport=transport, plugins=[_zeep_plugin(signer, verifier)]
    )
    startup = time.perf_counter() - started

    async def zeep_pay(guid: str) -> Any:
        request = {
            "header": {"lang": "ru", "timestamp": datetime.now(UTC), "requester": "bench-agent"},
            "toUserName": "77000000002",
            "amount": Decimal(100),
            "GUID": guid,
        }
        result = await zeep_client.service.createCashInPayment(CashInRequest=request)
        assert result["terminalPaymentTransactionStatus"] == "COMPLETED", result
        return result

    try:
        await zeep_pay(_guid())  # warm
        zeep_rate, zeep_cpu = await _throughput(zeep_pay, calls, concurrency)
    finally:
        await http.aclose()
    return [
        [
            f"signed pay round trip, {calls} calls, {concurrency} at once",
            f"{ours_rate:.0f}/s",
            f"{zeep_rate:.0f}/s",
            f"{ours_rate / zeep_rate:.2f}",
            "≥ 2",
        ],
        [
            "client CPU per call (calls per CPU-second)",
            f"{ours_cpu * 1e3:.2f} ms ({1 / ours_cpu:.0f}/s)",
            f"{zeep_cpu * 1e3:.2f} ms ({1 / zeep_cpu:.0f}/s)",
            f"{zeep_cpu / ours_cpu:.2f}",
            "≥ 2",
        ],
        ["client start-up (zeep: WSDL load)", "—", f"{startup * 1e3:.0f} ms", "", ""],
    ]


async def run(url: str, keys: Path, repeat: int, calls: int) -> str:
    rows = sign_and_verify_costs(keys, repeat)
    head = table(
        "2a. Allpay client cost against the python-xmlsec floor (key loaded once)",
        ["operation", "ours", "floor", "ratio", "goal"],
        rows,
    )
    trips = await round_trips(url, keys, calls, concurrency=8)
    return (
        head
        + "\n"
        + table(
            "2b. Signed pay round trip against the sandbox on loopback: ours vs zeep",
            ["what", "ours", "zeep", "ours/zeep", "goal"],
            trips,
        )
    )
