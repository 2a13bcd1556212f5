"""The embedded Allpay sandbox: Allpay's Cash-In service as far as the bot can tell.

Same namespace, element names and order, Faults and signatures as the real service (contract
section 7). It verifies the agent's signature by certificate number, signs its answers with its
own key and binds them to the request with ``AP:requestDsig``. Its ledger lives in its own
SQLite file, GUID+requester unique, so a restart of the bot (or of the sandbox) forgets nothing.

Scripted clients (README lists them):

=============  ==========================================================
``77000000001``  identified; first pay answer PENDING, then COMPLETED
``77000000002``  found, not identified; COMPLETED at once
``77000000003``  identified; DECLINED with a userMessage
``77000000004``  identified; the first pay answer is slower than the timeout
``77000000005``  identified; the first pay answer is HTTP 500
anything else    not found
=============  ==========================================================
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import functools
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Literal, cast

import aiosqlite
from aiohttp import web
from lxml import etree

from bot.allpay.protocol import (
    AP_NS,
    OP_AVAILABLE_BALANCE,
    OP_CASH_IN,
    OP_CHECK_AND_VALIDATE,
    OP_CHECK_USER,
    OP_ECHO,
    SOAP_NS,
    ApiVersion,
    InvalidAnswer,
    PayStatus,
    format_amount,
    new_envelope,
    parse_document,
    serialize,
    soap_parts,
)
from bot.allpay.signing import (
    SignatureError,
    Signer,
    Verifier,
    generate_key_pair,
    request_dsig_element,
)
from bot.domain.masking import mask_login
from bot.files import private_file

log = logging.getLogger(__name__)

SANDBOX_CERTIFICATE_NUMBER = "SANDBOX-0001"
SANDBOX_PATH = "/allpay-public-soap/cash-in-transaction-management/v1.1"
TM_PATH = "/allpay-public-soap/transaction-management/v1.1"
#: Allpay publishes Cash-In (and TransactionManagement) 1.2 beside 1.1: same operations and
#: types, another operation namespace. The sandbox serves both, each at its own path.
PATHS = {
    ApiVersion.V1_1: (SANDBOX_PATH, TM_PATH),
    ApiVersion.V1_2: (
        "/allpay-public-soap/cash-in-transaction-management/v1.2",
        "/allpay-public-soap/transaction-management/v1.2",
    ),
}
WSDL_FILES = {
    path: (file, version)
    for version, paths in PATHS.items()
    for path, file in zip(paths, ("cashin.wsdl", "tm.wsdl"), strict=True)
}
#: The version of the request being answered (each request runs in its own task).
_VERSION: contextvars.ContextVar[ApiVersion] = contextvars.ContextVar(
    "sandbox_version", default=ApiVersion.V1_1
)
MAX_REQUEST_BYTES = 64 * 1024
UNIDENTIFIED_LIMIT = Decimal(100_000)
DEFAULT_BALANCE = Decimal(100_000_000)

Flow = Literal["pending_then_completed", "completed", "declined", "slow_first", "http500_first"]
Fault = Literal["broken_xml", "forged", "http500", "fault200", "timeout", "unsigned"]


@dataclass(frozen=True, slots=True)
class ScriptedClient:
    identified: bool
    first_name: str
    last_name: str
    patronymic: str | None
    iin: str | None
    flow: Flow


SCRIPT: dict[str, ScriptedClient] = {
    "77000000001": ScriptedClient(
        True, "Айгерім", "Нұрланова", "Серікқызы", "900101400011", "pending_then_completed"
    ),
    "77000000002": ScriptedClient(False, "Данияр", "Ахметов", None, None, "completed"),
    "77000000003": ScriptedClient(True, "Ерлан", "Сапаров", "Болатұлы", "850505300033", "declined"),
    "77000000004": ScriptedClient(
        True, "Мария", "Иванова", "Петровна", "920202400044", "slow_first"
    ),
    "77000000005": ScriptedClient(True, "Асель", "Касымова", None, "950303400055", "http500_first"),
}

_MESSAGES: dict[str, dict[str, str]] = {
    "found": {"ru": "Клиент найден", "kk": "Клиент табылды", "en": "Client found"},
    "not_found": {
        "ru": "Пользователь не найден",
        "kk": "Пайдаланушы табылмады",
        "en": "User not found",
    },
    "PENDING": {
        "ru": "Платёж в обработке",
        "kk": "Төлем өңделуде",
        "en": "Payment is being processed",
    },
    "COMPLETED": {"ru": "Платёж проведён", "kk": "Төлем өтті", "en": "Payment completed"},
    "DECLINED": {
        "ru": "Пополнение отклонено: кошелёк клиента заблокирован",
        "kk": "Толтыру қабылданбады: клиенттің әмияны бұғатталған",
        "en": "Top-up declined: the client's wallet is blocked",
    },
    "limit": {
        "ru": "Превышен лимит для неидентифицированного кошелька",
        "kk": "Сәйкестендірілмеген әмиян лимиті асып кетті",
        "en": "Limit for an unidentified wallet exceeded",
    },
    "echo": {"ru": "OK", "kk": "OK", "en": "OK"},
    "balance": {"ru": "Баланс агента", "kk": "Агент балансы", "en": "Agent balance"},
}


def _message(key: str, lang: str) -> str:
    return _MESSAGES[key].get(lang, _MESSAGES[key]["ru"])


def wsdl_text(address: str, path: str = SANDBOX_PATH) -> str:
    file, version = WSDL_FILES[path]
    template = resources.files("bot.allpay").joinpath(file).read_text(encoding="utf-8")
    if version is not ApiVersion.V1_1:  # the WSDLs are written for 1.1
        template = template.replace(ApiVersion.V1_1.service_ns, version.service_ns)
        template = template.replace(ApiVersion.V1_1.tm_ns, version.tm_ns)
        template = template.replace(
            "1.1 as the embedded sandbox", f"{version} as the embedded sandbox"
        )
    return template.replace("SANDBOX_ADDRESS", address)


@functools.cache
def wsdl_schema(path: str = SANDBOX_PATH) -> etree.XMLSchema:
    """The XML Schema inside a served WSDL's ``types``: what the sandbox accepts there."""
    wsdl = etree.fromstring(wsdl_text("http://localhost/", path).encode())
    types = "{http://schemas.xmlsoap.org/wsdl/}types/{http://www.w3.org/2001/XMLSchema}schema"
    found = wsdl.find(types)
    assert found is not None
    # A standalone copy of the schema with every namespace the WSDL declares in scope
    # (its QName-valued attributes refer to the WSDL's "tns" prefix).
    nsmap = cast(dict[str, str], wsdl.nsmap)
    attrib = {str(k): str(v) for k, v in found.attrib.items()}
    schema = etree.Element(found.tag, attrib=attrib, nsmap=nsmap)
    schema.extend(copy.deepcopy(child) for child in found)
    return etree.XMLSchema(schema)


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True, slots=True)
class SandboxKeys:
    """The sandbox's own key pair and the agent key pair it trusts (the bot's, in sandbox mode)."""

    allpay_private: Path
    allpay_public: Path
    agent_private: Path
    agent_public: Path
    certificate_number: str = SANDBOX_CERTIFICATE_NUMBER


def ensure_sandbox_keys(folder: Path) -> SandboxKeys:
    """Generate both key pairs on first run into ``folder``; reuse them afterwards."""
    keys = SandboxKeys(
        allpay_private=folder / "allpay.key.pem",
        allpay_public=folder / "allpay.pub.pem",
        agent_private=folder / "agent.key.pem",
        agent_public=folder / "agent.pub.pem",
    )
    for private, public in (
        (keys.allpay_private, keys.allpay_public),
        (keys.agent_private, keys.agent_public),
    ):
        if not (private.is_file() and public.is_file()):
            generate_key_pair(private, public)
    return keys


# --------------------------------------------------------------------------- ledger

_LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    requester   TEXT NOT NULL,
    guid        TEXT NOT NULL,
    login       TEXT NOT NULL,
    amount      TEXT NOT NULL,
    status      TEXT NOT NULL,
    requests    INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (requester, guid)
);
CREATE TABLE IF NOT EXISTS balances (
    requester TEXT PRIMARY KEY,
    balance   TEXT NOT NULL
);
"""


@dataclass(slots=True)
class LedgerRow:
    requester: str
    guid: str
    login: str
    amount: Decimal
    status: PayStatus
    requests: int


#: Decides a non-final payment's next status from (row, created now, agent balance).
_Decider = Callable[[LedgerRow, bool, Decimal], PayStatus]


class Ledger:
    """The sandbox's books. One connection, one lock: correctness over speed."""

    def __init__(self, path: Path, initial_balance: Decimal = DEFAULT_BALANCE) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._initial_balance = initial_balance

    async def open(self) -> None:
        private_file(self._path)
        self._db = await aiosqlite.connect(self._path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=FULL")
        await self._db.executescript(_LEDGER_SCHEMA)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "ledger not open"
        return self._db

    async def get(self, requester: str, guid: str) -> LedgerRow | None:
        async with self.db.execute(
            "SELECT requester, guid, login, amount, status, requests FROM payments "
            "WHERE requester = ? AND guid = ?",
            (requester, guid),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return LedgerRow(row[0], row[1], row[2], Decimal(row[3]), PayStatus(row[4]), row[5])

    async def all(self) -> list[LedgerRow]:
        async with self.db.execute(
            "SELECT requester, guid, login, amount, status, requests FROM payments ORDER BY rowid"
        ) as cur:
            rows = await cur.fetchall()
        return [LedgerRow(r[0], r[1], r[2], Decimal(r[3]), PayStatus(r[4]), r[5]) for r in rows]

    async def balance(self, requester: str) -> Decimal:
        async with self.db.execute(
            "SELECT balance FROM balances WHERE requester = ?", (requester,)
        ) as cur:
            row = await cur.fetchone()
        return Decimal(row[0]) if row else self._initial_balance

    async def apply(
        self, requester: str, guid: str, login: str, amount: Decimal, decide: _Decider
    ) -> tuple[LedgerRow, bool]:
        """Create or advance one payment atomically; return (row, created)."""
        async with self._lock:
            now = datetime.now(UTC).isoformat()
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                row = await self.get(requester, guid)
                created = row is None
                if row is None:
                    row = LedgerRow(requester, guid, login, amount, PayStatus.PENDING, 1)
                else:
                    row.requests += 1
                if row.login != login or row.amount != amount:
                    raise GuidReused
                if not row.status.is_final:
                    balance = await self.balance(requester)
                    new_status = decide(row, created, balance)
                    if new_status is PayStatus.COMPLETED:
                        await self.db.execute(
                            "INSERT INTO balances(requester, balance) VALUES(?, ?) "
                            "ON CONFLICT(requester) DO UPDATE SET balance = excluded.balance",
                            (requester, str(balance - amount)),
                        )
                    row.status = new_status
                await self.db.execute(
                    "INSERT INTO payments(requester, guid, login, amount, status, requests, "
                    "created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(requester, guid) DO UPDATE SET status = excluded.status, "
                    "requests = excluded.requests, updated_at = excluded.updated_at",
                    (requester, guid, login, str(amount), row.status.value, row.requests, now, now),
                )
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            return row, created


class GuidReused(Exception):
    """The same GUID arrived with another login or amount."""


# --------------------------------------------------------------------------- service


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
        _VERSION.set(WSDL_FILES[request.path][1])  # answers in the namespace asked in
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._fault("soap:Client", "Request too large")
        try:
            root = parse_document(data, limit=MAX_REQUEST_BYTES)
            header, payload = soap_parts(root)
        except InvalidAnswer as exc:
            return self._fault("soap:Client", f"Malformed request: {exc}")
        digest = self._check_signature(root, header)
        if digest is None and self._require_signature:
            self.stats.rejected_signatures += 1
            await self._notify()
            return self._fault("soap:Client", "Sign Error: bad sign or authorization token")
        try:
            self._schemas[request.path].assertValid(payload)
        except etree.DocumentInvalid as exc:
            self.stats.rejected_schema += 1
            await self._notify()
            return self._fault("soap:Client", f"Unmarshalling Error: {exc}")
        operation = etree.QName(payload).localname
        self.stats.requests[operation] += 1
        self.stats.namespaces[etree.QName(payload).namespace or ""] += 1
        try:
            if operation in (OP_CHECK_USER, OP_CHECK_AND_VALIDATE):
                if self.check_faults:
                    text = self.check_faults.popleft()
                    return self._fault("soap:Server", text, user_message=text)
                return self._answer(*self._check_user(operation, payload), digest)
            if operation == OP_CASH_IN:
                return await self._pay(payload, digest)
            if operation == OP_ECHO:
                return self._answer(*self._echo(payload), digest)
            if operation == OP_AVAILABLE_BALANCE:
                return self._answer(*await self._balance(payload), digest)
            return self._fault("soap:Client", f"Unknown operation {operation}")
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
        self._response_header(ret, lang, "found" if client else "not_found", 0 if client else 1)
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
        self._response_header(ret, lang, "balance", 0)
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
            return self._fault("soap:Client", "Bad amount")
        if not amount.is_finite() or amount <= 0:
            return self._fault("soap:Client", "Amount must be positive")
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

        def decide(row: LedgerRow, created: bool, balance: Decimal) -> PayStatus:
            if client is None or client.flow == "declined":
                return PayStatus.DECLINED
            if not client.identified and amount > UNIDENTIFIED_LIMIT:
                return PayStatus.DECLINED
            if created and client.flow != "completed":
                return PayStatus.PENDING
            if balance < amount:  # the agent's float ran out: stays pending
                return PayStatus.PENDING
            return PayStatus.COMPLETED

        try:
            row, created = await self.ledger.apply(requester, guid, login, amount, decide)
        except GuidReused:
            return self._fault("soap:Client", "GUID already used with other parameters")
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
            self._response_header(ret, lang, key, 2)
        else:
            self._response_header(ret, lang, row.status.value, 0)
        etree.SubElement(ret, "terminalPaymentTransactionStatus").text = row.status.value
        if row.status is PayStatus.DECLINED:
            etree.SubElement(ret, "reason").text = f"sandbox: {key}"
        if self.faults:
            return await self._faulty(self.faults.popleft(), ret, digest)
        return self._answer(OP_CASH_IN, ret, digest)

    # -------------------------------------------------------------- answers

    @staticmethod
    def _response_header(ret: etree._Element, lang: str, key: str, status: int) -> None:
        header = etree.SubElement(ret, "header")
        etree.SubElement(header, "userMessage").text = _message(key, lang)
        etree.SubElement(header, "developerMessage").text = f"sandbox:{key}"
        etree.SubElement(header, "status").text = str(status)
        etree.SubElement(header, "timestamp").text = datetime.now(UTC).isoformat(
            timespec="milliseconds"
        )

    def _document(
        self, operation: str, ret: etree._Element, digest: str | None, signer: Signer | None
    ) -> bytes:
        version = _VERSION.get()
        service = version.tm_ns if operation == OP_AVAILABLE_BALANCE else version.service_ns
        root, op = new_envelope(f"{operation}Response", service)
        op.append(ret)
        if signer is not None:
            extra = [request_dsig_element(digest)] if digest is not None else []
            signer.sign(root, extra_header=extra)
        return serialize(root)

    def _answer(self, operation: str, ret: etree._Element, digest: str | None) -> web.Response:
        body = self._document(operation, ret, digest, self._signer)
        return web.Response(body=body, content_type="text/xml", charset="utf-8")

    async def _faulty(self, fault: Fault, ret: etree._Element, digest: str | None) -> web.Response:
        log.warning("sandbox: injecting fault %s", fault)
        if fault == "http500":
            return web.Response(status=500, text="<html><body>502 Bad Gateway</body></html>")
        if fault == "timeout":
            await asyncio.sleep(self.slow_delay)
            return self._answer(OP_CASH_IN, ret, digest)
        if fault == "fault200":
            return self._fault("soap:Server", "Internal error", status=200)
        if fault == "unsigned":
            return web.Response(
                body=self._document(OP_CASH_IN, ret, digest, None), content_type="text/xml"
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
                body=self._document(OP_CASH_IN, ret, digest, self._forger),
                content_type="text/xml",
            )
        body = self._document(OP_CASH_IN, ret, digest, self._signer)
        return web.Response(body=body[: len(body) // 2], content_type="text/xml")  # broken_xml

    def _fault(
        self, code: str, string: str, status: int = 500, *, user_message: str | None = None
    ) -> web.Response:
        root = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
        etree.SubElement(root, f"{{{SOAP_NS}}}Header")
        body = etree.SubElement(root, f"{{{SOAP_NS}}}Body")
        fault = etree.SubElement(body, f"{{{SOAP_NS}}}Fault")
        etree.SubElement(fault, "faultcode").text = code
        etree.SubElement(fault, "faultstring").text = string
        detail = etree.SubElement(fault, "detail")
        service = _VERSION.get().service_ns
        etree.SubElement(
            detail, f"{{{service}}}developerMessage", nsmap={"ns": service}
        ).text = string
        if user_message is not None:
            etree.SubElement(
                detail, f"{{{service}}}userMessage", nsmap={"ns": service}
            ).text = user_message
        return web.Response(
            status=status, body=serialize(root), content_type="text/xml", charset="utf-8"
        )


# --------------------------------------------------------------------------- running


@dataclass
class RunningSandbox:
    sandbox: Sandbox
    runner: web.AppRunner
    url: str
    keys: SandboxKeys

    @property
    def tm_url(self) -> str:
        """The TransactionManagement/1.1 service (``availableBalance``) beside the Cash-In one."""
        return self.url.removesuffix(SANDBOX_PATH) + TM_PATH

    def urls(self, version: ApiVersion) -> tuple[str, str]:
        """The Cash-In and TransactionManagement endpoints of ``version``."""
        base = self.url.removesuffix(SANDBOX_PATH)
        cashin, tm = PATHS[version]
        return base + cashin, base + tm

    async def close(self) -> None:
        await self.runner.cleanup()
        await self.sandbox.ledger.close()


async def start_sandbox(
    folder: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    slow_delay: float = 35.0,
    extra_agents: dict[str, Path] | None = None,
) -> RunningSandbox:
    """Start the sandbox on ``host:port`` (0: any free port); keys and ledger in ``folder``."""
    keys = ensure_sandbox_keys(folder)
    agents = {keys.certificate_number: Verifier.from_file(keys.agent_public)}
    for number, public in (extra_agents or {}).items():
        agents[number] = Verifier.from_file(public)
    ledger = Ledger(folder / "ledger.sqlite3")
    sandbox = Sandbox(
        ledger,
        signer=Signer.from_file(keys.allpay_private, None),
        agents=agents,
        slow_delay=slow_delay,
    )
    runner = web.AppRunner(sandbox.app(), access_log=None, shutdown_timeout=1.0)
    await ledger.open()
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        await ledger.close()
        raise
    bound_port = runner.addresses[0][1]
    url = f"http://{host}:{bound_port}{SANDBOX_PATH}"
    log.warning(
        "*** ALLPAY SANDBOX *** at %s — no real money moves; scripted clients 77000000001-5",
        url,
    )
    return RunningSandbox(sandbox, runner, url, keys)
