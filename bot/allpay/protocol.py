"""Envelopes and answers of Allpay's Cash-In service, exactly as the contract describes.

Requests: the operation element is qualified with the service namespace; everything inside it
is unqualified, in schema order, optional elements omitted. Answers are parsed strictly: an
unknown or missing element is an :class:`InvalidAnswer`, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from lxml import etree

from bot.domain.masking import mask_iin
from bot.domain.parsing import clean_name

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
AP_NS = "https://allpay.kz"


class ApiVersion(StrEnum):
    """Which Cash-In service the agent was given (``ALLPAY_API_VERSION``). Same operations,
    types, order and signing; only the operation namespace differs (the contract, section 8)."""

    V1_1 = "1.1"
    V1_2 = "1.2"

    @property
    def service_ns(self) -> str:
        """CashInTransactionManagement: checkUser…, createCashInPayment, echo."""
        if self is ApiVersion.V1_1:
            return "http://www.allpay.kz/mfs/soap/CashInTransactionManagement/1.1"
        return "http://www.innopay.kz/mfs/soap/CashInTransactionManagement/1.2"

    @property
    def tm_ns(self) -> str:
        """TransactionManagement: availableBalance."""
        if self is ApiVersion.V1_1:
            return "http://www.allpay.kz/mfs/soap/TransactionManagement/1.1"
        return "http://www.innopay.kz/mfs/soap/TransactionManagement/1.2"


SERVICE_NS = ApiVersion.V1_1.service_ns
TM_SERVICE_NS = ApiVersion.V1_1.tm_ns
#: Every Cash-In namespace a Fault's detail may use.
_SERVICE_NAMESPACES = tuple(version.service_ns for version in ApiVersion)

OP_CHECK_USER = "checkUser"
OP_CHECK_AND_VALIDATE = "checkUserAndValidateCashIn"
OP_CASH_IN = "createCashInPayment"
OP_ECHO = "echo"
OP_AVAILABLE_BALANCE = "availableBalance"  # on the TransactionManagement/1.1 service

#: Largest answer we read; real answers are a few KiB.
MAX_ANSWER_BYTES = 256 * 1024

GUID_RE = re.compile(
    r"\{[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}\}"
)
IIN_RE = re.compile(r"[0-9]{12}")
LANGS = ("ru", "en", "kk")


class PayStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    DECLINED = "DECLINED"

    @property
    def is_final(self) -> bool:
        return self is not PayStatus.PENDING


@dataclass(frozen=True, slots=True)
class ResponseHeader:
    user_message: str
    developer_message: str
    status: int
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class PayResult:
    """What one ``createCashInPayment`` call established.

    ``header`` is None when Allpay gave no trustworthy answer; then ``status`` is PENDING and
    ``cause`` says why (timeout, HTTP 500, bad signature, ...).
    """

    status: PayStatus
    header: ResponseHeader | None = None
    reason: str | None = None
    cause: str | None = None

    @property
    def user_message(self) -> str | None:
        return self.header.user_message if self.header else None

    @property
    def developer_message(self) -> str | None:
        return self.header.developer_message if self.header else None


@dataclass(frozen=True, slots=True)
class ClientInfo:
    identified: bool
    iin: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    patronymic: str | None = None

    @property
    def full_name(self) -> str:
        """As people may see it in a card or a list: Allpay's text with control, format and
        bidi characters removed, spaces folded, length bounded."""
        parts = (self.last_name, self.first_name, self.patronymic)
        return clean_name(" ".join(p for p in parts if p)) or "—"

    @property
    def masked_iin(self) -> str | None:
        return mask_iin(self.iin) if self.iin else None

    def __repr__(self) -> str:  # never let an IIN reach a log through repr()
        return f"ClientInfo(identified={self.identified}, iin={self.masked_iin!r})"


@dataclass(frozen=True, slots=True)
class CheckResult:
    header: ResponseHeader
    client: ClientInfo | None

    @property
    def found(self) -> bool:
        return self.client is not None


@dataclass(frozen=True, slots=True)
class BalanceResult:
    """``availableBalance``: the agent's balance. Allpay sends it as a string; ``amount`` is
    its value when that string is a plain decimal number, else None (show ``raw``)."""

    header: ResponseHeader
    raw: str
    amount: Decimal | None


class AllpayErrorKind(StrEnum):
    UNAVAILABLE = "unavailable"  # no connection, timeout, HTTP 5xx without a usable answer
    FAULT = "fault"  # a SOAP Fault
    INVALID = "invalid"  # broken, unexpected or unverifiable answer


class AllpayError(Exception):
    """A check could not be answered. ``user_message`` is the text a Fault carried for people
    and ``code`` its faultcode: a Fault is never signed, so neither is Allpay's verified word."""

    def __init__(
        self,
        kind: AllpayErrorKind,
        detail: str,
        user_message: str | None = None,
        code: str | None = None,
    ):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.user_message = user_message
        self.code = code


class InvalidAnswer(Exception):
    """The answer is not what the contract allows."""


class SoapFault(Exception):
    """A SOAP Fault. Unsigned by contract (and Allpay's endpoints are plain http): anyone on
    the way can write one, so its texts are kept as unverified words — one line, no control
    or bidi characters, bounded — never as Allpay's."""

    def __init__(self, code: str, string: str, user_message: str | None = None) -> None:
        super().__init__(f"{code}: {string}")
        self.code = code
        self.string = string
        self.user_message = user_message


def format_amount(amount: Decimal) -> str:
    """A plain xs:decimal: no exponent, no grouping, no trailing fraction zeros."""
    if not amount.is_finite() or amount <= 0:
        raise ValueError("amount must be a positive finite decimal")
    text = format(amount.normalize(), "f")
    return text


# ---------------------------------------------------------------- building requests


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _sub(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = etree.SubElement(parent, tag)
    el.text = text
    return el


def new_envelope(
    operation: str, service_ns: str = SERVICE_NS
) -> tuple[etree._Element, etree._Element]:
    """An empty envelope with ``soapenv:Header``; returns (root, operation element)."""
    root = etree.Element(_q(SOAP_NS, "Envelope"), nsmap={"soapenv": SOAP_NS, "ns": service_ns})
    etree.SubElement(root, _q(SOAP_NS, "Header"))
    body = etree.SubElement(root, _q(SOAP_NS, "Body"))
    op = etree.SubElement(body, _q(service_ns, operation))
    return root, op


def _request_header(
    parent: etree._Element, *, lang: str, timestamp: datetime, requester: str, token: str | None
) -> None:
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}")
    header = etree.SubElement(parent, "header")
    _sub(header, "lang", lang)
    _sub(header, "timestamp", timestamp.isoformat(timespec="milliseconds"))
    _sub(header, "requester", requester)
    if token:
        _sub(header, "token", token)


def build_check_user(
    *,
    login: str,
    lang: str,
    timestamp: datetime,
    requester: str,
    token: str | None = None,
    operation: str = OP_CHECK_AND_VALIDATE,
    version: ApiVersion = ApiVersion.V1_1,
) -> etree._Element:
    root, op = new_envelope(operation, version.service_ns)
    req = etree.SubElement(op, "CheckUserRequest")
    _request_header(req, lang=lang, timestamp=timestamp, requester=requester, token=token)
    _sub(req, "userName", login)
    return root


def build_cash_in(
    *,
    guid: str,
    login: str,
    amount: Decimal,
    lang: str,
    timestamp: datetime,
    requester: str,
    token: str | None = None,
    version: ApiVersion = ApiVersion.V1_1,
) -> etree._Element:
    if not GUID_RE.fullmatch(guid):
        raise ValueError("GUID must be a braced UUID")
    root, op = new_envelope(OP_CASH_IN, version.service_ns)
    req = etree.SubElement(op, "CashInRequest")
    _request_header(req, lang=lang, timestamp=timestamp, requester=requester, token=token)
    _sub(req, "toUserName", login)
    _sub(req, "amount", format_amount(amount))
    _sub(req, "GUID", guid)
    return root


def build_available_balance(
    *,
    lang: str,
    timestamp: datetime,
    requester: str,
    token: str | None = None,
    version: ApiVersion = ApiVersion.V1_1,
) -> etree._Element:
    root, op = new_envelope(OP_AVAILABLE_BALANCE, version.tm_ns)
    req = etree.SubElement(op, "AvailableBalanceRequest")
    _request_header(req, lang=lang, timestamp=timestamp, requester=requester, token=token)
    return root


def build_echo(message: str, version: ApiVersion = ApiVersion.V1_1) -> etree._Element:
    """``echo``: Allpay's operation "for certificate testing purposes" — a signed request
    whose signed answer repeats the message."""
    root, op = new_envelope(OP_ECHO, version.service_ns)
    _sub(op, "message", message)
    return root


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# ---------------------------------------------------------------- parsing answers

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_blank_text=False,
    # Comments are outside what an enveloped URI="" signature covers (XML-DSig 4.3.3.3), so a
    # comment could be slipped into a signed answer: drop them before anything reads text.
    remove_comments=True,
    remove_pis=True,
)


def parse_document(data: bytes, *, limit: int = MAX_ANSWER_BYTES) -> etree._Element:
    """Parse XML from outside: no DTD, no entities, no network, bounded size."""
    if len(data) > limit:
        raise InvalidAnswer(f"answer larger than {limit} bytes")
    if not data.strip():
        raise InvalidAnswer("empty answer")
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser=_PARSER))
    except etree.XMLSyntaxError as exc:
        raise InvalidAnswer(f"not XML: {exc}") from None
    info = tree.docinfo
    doctype = str(getattr(info, "doctype", ""))  # not in lxml-stubs
    if doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise InvalidAnswer("a DOCTYPE is not allowed")
    root = tree.getroot()
    for el in root.iter():
        if isinstance(el, etree._Entity):
            raise InvalidAnswer("entities are not allowed")
    return root


def _children(el: etree._Element) -> list[etree._Element]:
    """Element children, comments and processing instructions skipped."""
    return [c for c in el if isinstance(c.tag, str)]


def _text(el: etree._Element) -> str:
    if _children(el):
        raise InvalidAnswer(f"<{el.tag}> must hold text, not elements")
    return el.text or ""


def _sequence(parent: etree._Element, spec: list[tuple[str, bool]]) -> dict[str, etree._Element]:
    """Match ``parent``'s unqualified children against an xs:sequence of (name, required)."""
    found: dict[str, etree._Element] = {}
    children = _children(parent)
    index = 0
    for name, required in spec:
        if index < len(children) and children[index].tag == name:
            found[name] = children[index]
            index += 1
        elif required:
            raise InvalidAnswer(f"<{name}> missing in <{etree.QName(parent).localname}>")
    if index != len(children):
        raise InvalidAnswer(
            f"unexpected <{children[index].tag}> in <{etree.QName(parent).localname}>"
        )
    return found


def _parse_datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidAnswer(f"bad dateTime {value!r}") from None


def _parse_bool(value: str) -> bool:
    value = value.strip()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidAnswer(f"bad boolean {value!r}")


def soap_parts(root: etree._Element) -> tuple[etree._Element | None, etree._Element]:
    """Return (Header or None, the single element inside Body); raise on a wrong shape."""
    if root.tag != _q(SOAP_NS, "Envelope"):
        raise InvalidAnswer(f"not a SOAP 1.1 envelope: <{root.tag}>")
    header: etree._Element | None = None
    body: etree._Element | None = None
    for child in _children(root):
        if child.tag == _q(SOAP_NS, "Header") and header is None and body is None:
            header = child
        elif child.tag == _q(SOAP_NS, "Body") and body is None:
            body = child
        else:
            raise InvalidAnswer(f"unexpected <{child.tag}> in Envelope")
    if body is None:
        raise InvalidAnswer("no soap:Body")
    content = _children(body)
    if len(content) != 1:
        raise InvalidAnswer("soap:Body must hold exactly one element")
    return header, content[0]


#: A faultcode as shown: a qualified name (``soap:Server``), nothing else of what came.
_FAULT_CODE = re.compile(r"[^A-Za-z0-9:._-]")
FAULT_CODE_MAX = 64
#: A Fault's texts, at most (they are unverified: quoted, never trusted).
FAULT_TEXT_MAX = 300


def raise_for_fault(payload: etree._Element) -> None:
    if payload.tag != _q(SOAP_NS, "Fault"):
        return
    code = payload.findtext("faultcode") or ""
    string = payload.findtext("faultstring") or ""
    user_message = None
    detail = payload.find("detail")
    if detail is not None:
        found = [detail.findtext(_q(ns, "userMessage")) for ns in _SERVICE_NAMESPACES]
        user_message = next((text for text in found if text), None) or detail.findtext(
            "userMessage"
        )
    words = code.split()
    raise SoapFault(
        _FAULT_CODE.sub("", words[0] if words else "")[:FAULT_CODE_MAX],
        clean_name(string, FAULT_TEXT_MAX) or "",
        clean_name(user_message, FAULT_TEXT_MAX) if user_message else None,
    )


def _return_of(payload: etree._Element, operation: str, service_ns: str) -> etree._Element:
    expected = _q(service_ns, f"{operation}Response")
    if payload.tag != expected:
        raise InvalidAnswer(f"expected <{expected}>, got <{payload.tag}>")
    children = _children(payload)
    if len(children) != 1 or children[0].tag != "return":
        raise InvalidAnswer("the response must hold exactly one <return>")
    return children[0]


def _response_header(el: etree._Element) -> ResponseHeader:
    parts = _sequence(
        el,
        [("userMessage", True), ("developerMessage", True), ("status", True), ("timestamp", True)],
    )
    status_text = _text(parts["status"]).strip()
    if not status_text.isdigit():
        raise InvalidAnswer(f"bad status {status_text!r}")
    return ResponseHeader(
        user_message=_text(parts["userMessage"]).strip(),
        developer_message=_text(parts["developerMessage"]).strip(),
        status=int(status_text),
        timestamp=_parse_datetime(_text(parts["timestamp"])),
    )


def parse_check_answer(
    payload: etree._Element,
    operation: str = OP_CHECK_AND_VALIDATE,
    version: ApiVersion = ApiVersion.V1_1,
) -> CheckResult:
    raise_for_fault(payload)
    ret = _return_of(payload, operation, version.service_ns)
    parts = _sequence(ret, [("header", True), ("basicUserInfo", False)])
    header = _response_header(parts["header"])
    info_el = parts.get("basicUserInfo")
    if info_el is None:
        return CheckResult(header=header, client=None)
    info = _sequence(
        info_el,
        [
            ("identified", True),
            ("IIN", False),
            ("firstName", False),
            ("lastName", False),
            ("patronymic", False),
        ],
    )
    iin = _text(info["IIN"]).strip() if "IIN" in info else None
    if iin is not None and not IIN_RE.fullmatch(iin):
        raise InvalidAnswer("bad IIN")

    def opt(name: str) -> str | None:
        return _text(info[name]).strip() or None if name in info else None

    return CheckResult(
        header=header,
        client=ClientInfo(
            identified=_parse_bool(_text(info["identified"])),
            iin=iin,
            first_name=opt("firstName"),
            last_name=opt("lastName"),
            patronymic=opt("patronymic"),
        ),
    )


def parse_pay_answer(payload: etree._Element, version: ApiVersion = ApiVersion.V1_1) -> PayResult:
    raise_for_fault(payload)
    ret = _return_of(payload, OP_CASH_IN, version.service_ns)
    parts = _sequence(
        ret, [("header", True), ("terminalPaymentTransactionStatus", True), ("reason", False)]
    )
    header = _response_header(parts["header"])
    raw = _text(parts["terminalPaymentTransactionStatus"]).strip()
    try:
        status = PayStatus(raw)
    except ValueError:
        raise InvalidAnswer(f"unknown terminalPaymentTransactionStatus {raw!r}") from None
    reason = _text(parts["reason"]).strip() or None if "reason" in parts else None
    return PayResult(status=status, header=header, reason=reason)


_DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def parse_balance_answer(
    payload: etree._Element, version: ApiVersion = ApiVersion.V1_1
) -> BalanceResult:
    raise_for_fault(payload)
    ret = _return_of(payload, OP_AVAILABLE_BALANCE, version.tm_ns)
    parts = _sequence(ret, [("header", True), ("agentBalanceResponse", True)])
    header = _response_header(parts["header"])
    raw = _text(parts["agentBalanceResponse"]).strip()
    compact = raw.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    amount = Decimal(compact) if _DECIMAL_RE.fullmatch(compact) else None
    return BalanceResult(header=header, raw=raw, amount=amount)


def parse_echo_answer(payload: etree._Element, version: ApiVersion = ApiVersion.V1_1) -> str:
    """The message ``echo`` repeated."""
    raise_for_fault(payload)
    return _text(_return_of(payload, OP_ECHO, version.service_ns))
