"""The embedded Allpay sandbox: Allpay's Cash-In service as far as the bot can tell.

Same namespace, element names and order, Faults and signatures as the real service (contract
section 7). :class:`Sandbox` verifies the agent's signature by certificate number, validates
each request against the served WSDL's schema, answers the scripted clients
(:mod:`.clients`) from its ledger (:mod:`.ledger`), signs its answers with its own key and
binds them to the request with ``AP:requestDsig`` (:mod:`.answers`). Tests inject faults into
the next pay answers and watch what it saw (:class:`SandboxStats`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from aiohttp import web
from lxml import etree

from bot.allpay.protocol import (
    AP_NS,
    OP_AVAILABLE_BALANCE,
    OP_CASH_IN,
    OP_CHECK_AND_VALIDATE,
    OP_CHECK_USER,
    OP_ECHO,
    InvalidAnswer,
    PayStatus,
    format_amount,
    parse_document,
    soap_parts,
)
from bot.allpay.signing import SignatureError, Signer, Verifier, generate_key_pair
from bot.devtools.sandbox.answers import VERSION, answer, document, response_header, soap_fault
from bot.devtools.sandbox.clients import SCRIPT, decider
from bot.devtools.sandbox.ledger import GuidReused, Ledger
from bot.devtools.sandbox.wsdl import WSDL_FILES, wsdl_schema, wsdl_text
from bot.domain.masking import mask_login

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024

Fault = Literal["broken_xml", "forged", "http500", "fault200", "timeout", "unsigned"]


@dataclass
class SandboxStats:
    """What the sandbox saw; tests and the demo read it."""

    requests: Counter[str] = field(default_factory=Counter)  # by operation
    namespaces: Counter[str] = field(default_factory=Counter)  # by operation namespace
    pay_guids: Counter[str] = field(default_factory=Counter)  # pay requests by GUID
    #: Pay requests that arrived while another request of the same GUID was being answered:
    #: one GUID in flight twice at once (the bot's leases must keep this 0).
    overlaps: Counter[str] = field(default_factory=Counter)
    langs: list[str] = field(default_factory=list)
    rejected_signatures: int = 0
    rejected_schema: int = 0


class Sandbox:
    def __init__(
        self,
        ledger: Ledger,
        *,
        signer: Signer,
        agents: dict[str, Verifier],
        slow_delay: float = 35.0,
        require_signature: bool = True,
    ) -> None:
        self.ledger = ledger
        self._signer = signer
        self._agents = agents
        self.slow_delay = slow_delay
        self._require_signature = require_signature
        self._paying: Counter[str] = Counter()  # pay requests being answered, by GUID
        self._schemas = {path: wsdl_schema(path) for path in WSDL_FILES}
        self.stats = SandboxStats()
        #: Faults to apply to the next pay answers, in order (after the ledger is updated,
        #: as when a real answer is lost on the way back).
        self.faults: deque[Fault] = deque()
        #: Allpay's own texts for SOAP Faults that answer the next client checks, in order
        #: (Allpay words them; a test checks the bot treats them as text, never as markup).
        self.check_faults: deque[str] = deque()
        self._forger: Signer | None = None
        #: Called with the GUID after the ledger has the payment and before the answer goes
        #: out: lets a test stop the world at "Allpay decided, the agent does not know yet".
        self.after_ledger: Callable[[str], Awaitable[None]] | None = None
        self._changed = asyncio.Condition()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        for path in WSDL_FILES:
            app.router.add_get(path, self._get)
            app.router.add_post(path, self._post)
        return app

    async def wait_for(
        self, predicate: Callable[[SandboxStats], object], within: float = 10.0
    ) -> None:
        """Wait until ``predicate(stats)`` is true (for tests and the demo)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: bool(predicate(self.stats)))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -------------------------------------------------------------- HTTP

    async def _get(self, request: web.Request) -> web.Response:
        if "wsdl" not in {k.lower() for k in request.query}:
            return web.Response(status=404, text="Append ?wsdl for the service description")
        address = str(request.url.with_query(None))
        return web.Response(
            text=wsdl_text(address, request.path), content_type="text/xml", charset="utf-8"
        )

    async def _post(self, request: web.Request) -> web.StreamResponse:
        VERSION.set(WSDL_FILES[request.path][1])  # answers in the namespace asked in
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return soap_fault("soap:Client", "Request too large")
        try:
            root = parse_document(data, limit=MAX_REQUEST_BYTES)
            header, payload = soap_parts(root)
        except InvalidAnswer as exc:
            return soap_fault("soap:Client", f"Malformed request: {exc}")
        digest = self._check_signature(root, header)
        if digest is None and self._require_signature:
            self.stats.rejected_signatures += 1
            await self._notify()
            return soap_fault("soap:Client", "Sign Error: bad sign or authorization token")
        try:
            self._schemas[request.path].assertValid(payload)
        except etree.DocumentInvalid as exc:
            self.stats.rejected_schema += 1
            await self._notify()
            return soap_fault("soap:Client", f"Unmarshalling Error: {exc}")
        operation = etree.QName(payload).localname
        self.stats.requests[operation] += 1
        self.stats.namespaces[etree.QName(payload).namespace or ""] += 1
        try:
            if operation in (OP_CHECK_USER, OP_CHECK_AND_VALIDATE):
                if self.check_faults:
                    text = self.check_faults.popleft()
                    return soap_fault("soap:Server", text, user_message=text)
                return self._answer(*self._check_user(operation, payload), digest)
            if operation == OP_CASH_IN:
                return await self._pay(payload, digest)
            if operation == OP_ECHO:
                return self._answer(*self._echo(payload), digest)
            if operation == OP_AVAILABLE_BALANCE:
                return self._answer(*await self._balance(payload), digest)
            return soap_fault("soap:Client", f"Unknown operation {operation}")
        finally:
            await self._notify()

    def _check_signature(self, root: etree._Element, header: etree._Element | None) -> str | None:
        if header is None:
            return None
        number = header.findtext(f"{{{AP_NS}}}certificateNumber")
        verifier = self._agents.get((number or "").strip())
        if verifier is None:
            return None
        try:
            return verifier.verify(root).digest
        except SignatureError:
            return None

    # -------------------------------------------------------------- operations

    @staticmethod
    def _request_header(req: etree._Element) -> tuple[str, str]:
        lang = req.findtext("header/lang") or "ru"
        requester = req.findtext("header/requester") or ""
        return lang, requester

    def _check_user(self, operation: str, payload: etree._Element) -> tuple[str, etree._Element]:
        req = payload.find("CheckUserRequest")
        assert req is not None  # schema-validated
        lang, _ = self._request_header(req)
        self.stats.langs.append(lang)
        login = (req.findtext("userName") or "").strip()
        client = SCRIPT.get(login)
        ret = etree.Element("return")
        response_header(ret, lang, "found" if client else "not_found", 0 if client else 1)
        if client is not None:
            info = etree.SubElement(ret, "basicUserInfo")
            etree.SubElement(info, "identified").text = "true" if client.identified else "false"
            if client.iin:
                etree.SubElement(info, "IIN").text = client.iin
            etree.SubElement(info, "firstName").text = client.first_name
            etree.SubElement(info, "lastName").text = client.last_name
            if client.patronymic:
                etree.SubElement(info, "patronymic").text = client.patronymic
        log.info("sandbox %s %s: found=%s", operation, mask_login(login), client is not None)
        return operation, ret

    def _echo(self, payload: etree._Element) -> tuple[str, etree._Element]:
        ret = etree.Element("return")
        ret.text = payload.findtext("message") or ""
        return OP_ECHO, ret

    async def _balance(self, payload: etree._Element) -> tuple[str, etree._Element]:
        req = payload.find("AvailableBalanceRequest")
        assert req is not None  # schema-validated
        lang, requester = self._request_header(req)
        ret = etree.Element("return")
        response_header(ret, lang, "balance", 0)
        balance = await self.ledger.balance(requester)
        etree.SubElement(ret, "agentBalanceResponse").text = format_amount(balance)
        return OP_AVAILABLE_BALANCE, ret

    async def _pay(self, payload: etree._Element, digest: str | None) -> web.StreamResponse:
        req = payload.find("CashInRequest")
        assert req is not None
        lang, requester = self._request_header(req)
        self.stats.langs.append(lang)
        login = (req.findtext("toUserName") or "").strip()
        guid = (req.findtext("GUID") or "").strip()
        try:
            amount = Decimal((req.findtext("amount") or "").strip())
        except InvalidOperation:
            return soap_fault("soap:Client", "Bad amount")
        if not amount.is_finite() or amount <= 0:
            return soap_fault("soap:Client", "Amount must be positive")
        self.stats.pay_guids[guid] += 1
        if self._paying[guid]:
            self.stats.overlaps[guid] += 1
        self._paying[guid] += 1
        try:
            return await self._pay_one(guid, login, amount, lang, requester, digest)
        finally:
            self._paying[guid] -= 1

    async def _pay_one(
        self,
        guid: str,
        login: str,
        amount: Decimal,
        lang: str,
        requester: str,
        digest: str | None,
    ) -> web.StreamResponse:
        await self._notify()  # watchers learn of a request while its answer is still coming
        client = SCRIPT.get(login)
        try:
            row, created = await self.ledger.apply(
                requester, guid, login, amount, decider(client, amount)
            )
        except GuidReused:
            return soap_fault("soap:Client", "GUID already used with other parameters")
        log.info(
            "sandbox pay %s %s %s: %s (request %d)",
            guid,
            mask_login(login),
            amount,
            row.status,
            row.requests,
        )
        if self.after_ledger is not None:
            await self.after_ledger(guid)
        if created and client is not None and client.flow == "slow_first":
            await asyncio.sleep(self.slow_delay)
        if created and client is not None and client.flow == "http500_first":
            return web.Response(status=500, text="Internal Server Error")

        ret = etree.Element("return")
        if row.status is PayStatus.DECLINED:
            key = "not_found" if client is None else "DECLINED" if client.identified else "limit"
            response_header(ret, lang, key, 2)
        else:
            response_header(ret, lang, row.status.value, 0)
        etree.SubElement(ret, "terminalPaymentTransactionStatus").text = row.status.value
        if row.status is PayStatus.DECLINED:
            etree.SubElement(ret, "reason").text = f"sandbox: {key}"
        if self.faults:
            return await self._faulty(self.faults.popleft(), ret, digest)
        return self._answer(OP_CASH_IN, ret, digest)

    # -------------------------------------------------------------- answers

    def _answer(self, operation: str, ret: etree._Element, digest: str | None) -> web.Response:
        return answer(operation, ret, digest, self._signer)

    async def _faulty(self, fault: Fault, ret: etree._Element, digest: str | None) -> web.Response:
        log.warning("sandbox: injecting fault %s", fault)
        if fault == "http500":
            return web.Response(status=500, text="<html><body>502 Bad Gateway</body></html>")
        if fault == "timeout":
            await asyncio.sleep(self.slow_delay)
            return self._answer(OP_CASH_IN, ret, digest)
        if fault == "fault200":
            return soap_fault("soap:Server", "Internal error", status=200)
        if fault == "unsigned":
            return web.Response(
                body=document(OP_CASH_IN, ret, digest, None), content_type="text/xml"
            )
        if fault == "forged":
            if self._forger is None:
                import tempfile

                with tempfile.TemporaryDirectory() as tmp:
                    generate_key_pair(Path(tmp) / "k.pem", Path(tmp) / "p.pem", bits=1024)
                    self._forger = Signer.from_file(Path(tmp) / "k.pem", None)
            # The same answer, but COMPLETED and signed by somebody else's key.
            status = ret.find("terminalPaymentTransactionStatus")
            assert status is not None
            status.text = PayStatus.COMPLETED.value
            return web.Response(
                body=document(OP_CASH_IN, ret, digest, self._forger),
                content_type="text/xml",
            )
        body = document(OP_CASH_IN, ret, digest, self._signer)
        return web.Response(body=body[: len(body) // 2], content_type="text/xml")  # broken_xml
