"""Envelopes of Allpay's Cash-In service, exactly as the contract describes: namespaces,
versions, operations, the requests built and the XML that comes back read safely.

Requests: the operation element is qualified with the service namespace; everything inside it
is unqualified, in schema order, optional elements omitted. What an answer's payload says is
:mod:`bot.allpay.answers`' (parsed strictly: an unknown or missing element is an
:class:`InvalidAnswer`, never a guess).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from lxml import etree

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
SERVICE_NAMESPACES = tuple(version.service_ns for version in ApiVersion)

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


def format_amount(amount: Decimal) -> str:
    """A plain xs:decimal: no exponent, no grouping, no trailing fraction zeros."""
    if not amount.is_finite() or amount <= 0:
        raise ValueError("amount must be a positive finite decimal")
    text = format(amount.normalize(), "f")
    return text


# ---------------------------------------------------------------- building requests


def qname(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _sub(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = etree.SubElement(parent, tag)
    el.text = text
    return el


def new_envelope(
    operation: str, service_ns: str = SERVICE_NS
) -> tuple[etree._Element, etree._Element]:
    """An empty envelope with ``soapenv:Header``; returns (root, operation element)."""
    root = etree.Element(qname(SOAP_NS, "Envelope"), nsmap={"soapenv": SOAP_NS, "ns": service_ns})
    etree.SubElement(root, qname(SOAP_NS, "Header"))
    body = etree.SubElement(root, qname(SOAP_NS, "Body"))
    op = etree.SubElement(body, qname(service_ns, operation))
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


# ---------------------------------------------------------------- reading what comes back

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


def element_children(el: etree._Element) -> list[etree._Element]:
    """Element children, comments and processing instructions skipped."""
    return [c for c in el if isinstance(c.tag, str)]


def soap_parts(root: etree._Element) -> tuple[etree._Element | None, etree._Element]:
    """Return (Header or None, the single element inside Body); raise on a wrong shape."""
    if root.tag != qname(SOAP_NS, "Envelope"):
        raise InvalidAnswer(f"not a SOAP 1.1 envelope: <{root.tag}>")
    header: etree._Element | None = None
    body: etree._Element | None = None
    for child in element_children(root):
        if child.tag == qname(SOAP_NS, "Header") and header is None and body is None:
            header = child
        elif child.tag == qname(SOAP_NS, "Body") and body is None:
            body = child
        else:
            raise InvalidAnswer(f"unexpected <{child.tag}> in Envelope")
    if body is None:
        raise InvalidAnswer("no soap:Body")
    content = element_children(body)
    if len(content) != 1:
        raise InvalidAnswer("soap:Body must hold exactly one element")
    return header, content[0]
