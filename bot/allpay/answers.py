"""What Allpay's answers say, read strictly: the typed results of each operation, its SOAP
Faults, and the parsing of a verified answer's payload (an unknown or missing element is an
:class:`~bot.allpay.protocol.InvalidAnswer`, never a guess). The envelopes themselves, both
ways, are :mod:`bot.allpay.protocol`'s."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lxml import etree

from bot.allpay.protocol import (
    IIN_RE,
    OP_AVAILABLE_BALANCE,
    OP_CASH_IN,
    OP_CHECK_AND_VALIDATE,
    OP_ECHO,
    SERVICE_NAMESPACES,
    SOAP_NS,
    ApiVersion,
    InvalidAnswer,
    PayStatus,
    element_children,
    qname,
)
from bot.domain.masking import mask_iin
from bot.domain.parsing import clean_name


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


class SoapFault(Exception):
    """A SOAP Fault. Unsigned by contract (and Allpay's endpoints are plain http): anyone on
    the way can write one, so its texts are kept as unverified words — one line, no control
    or bidi characters, bounded — never as Allpay's."""

    def __init__(self, code: str, string: str, user_message: str | None = None) -> None:
        super().__init__(f"{code}: {string}")
        self.code = code
        self.string = string
        self.user_message = user_message


def _text(el: etree._Element) -> str:
    if element_children(el):
        raise InvalidAnswer(f"<{el.tag}> must hold text, not elements")
    return el.text or ""


def _sequence(parent: etree._Element, spec: list[tuple[str, bool]]) -> dict[str, etree._Element]:
    """Match ``parent``'s unqualified children against an xs:sequence of (name, required)."""
    found: dict[str, etree._Element] = {}
    children = element_children(parent)
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


#: A faultcode as shown: a qualified name (``soap:Server``), nothing else of what came.
_FAULT_CODE = re.compile(r"[^A-Za-z0-9:._-]")
FAULT_CODE_MAX = 64
#: A Fault's texts, at most (they are unverified: quoted, never trusted).
FAULT_TEXT_MAX = 300


def raise_for_fault(payload: etree._Element) -> None:
    if payload.tag != qname(SOAP_NS, "Fault"):
        return
    code = payload.findtext("faultcode") or ""
    string = payload.findtext("faultstring") or ""
    user_message = None
    detail = payload.find("detail")
    if detail is not None:
        found = [detail.findtext(qname(ns, "userMessage")) for ns in SERVICE_NAMESPACES]
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
    expected = qname(service_ns, f"{operation}Response")
    if payload.tag != expected:
        raise InvalidAnswer(f"expected <{expected}>, got <{payload.tag}>")
    children = element_children(payload)
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
