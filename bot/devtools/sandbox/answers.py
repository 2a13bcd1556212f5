"""The sandbox's SOAP answers as Allpay words them: the ``return`` header with a userMessage
in the request's language, the envelope in the namespace of the version asked in (one
request per task: :data:`VERSION`), signed and bound to the request with ``AP:requestDsig``,
and SOAP Faults."""

from __future__ import annotations

import contextvars
from datetime import UTC, datetime

from aiohttp import web
from lxml import etree

from bot.allpay.protocol import (
    OP_AVAILABLE_BALANCE,
    SOAP_NS,
    ApiVersion,
    new_envelope,
    serialize,
)
from bot.allpay.signing import Signer, request_dsig_element

#: The version of the request being answered (each request runs in its own task).
VERSION: contextvars.ContextVar[ApiVersion] = contextvars.ContextVar(
    "sandbox_version", default=ApiVersion.V1_1
)

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


def response_header(ret: etree._Element, lang: str, key: str, status: int) -> None:
    header = etree.SubElement(ret, "header")
    etree.SubElement(header, "userMessage").text = _message(key, lang)
    etree.SubElement(header, "developerMessage").text = f"sandbox:{key}"
    etree.SubElement(header, "status").text = str(status)
    etree.SubElement(header, "timestamp").text = datetime.now(UTC).isoformat(
        timespec="milliseconds"
    )


def document(
    operation: str, ret: etree._Element, digest: str | None, signer: Signer | None
) -> bytes:
    """The answer's envelope, signed by ``signer`` (None: unsigned)."""
    version = VERSION.get()
    service = version.tm_ns if operation == OP_AVAILABLE_BALANCE else version.service_ns
    root, op = new_envelope(f"{operation}Response", service)
    op.append(ret)
    if signer is not None:
        extra = [request_dsig_element(digest)] if digest is not None else []
        signer.sign(root, extra_header=extra)
    return serialize(root)


def answer(operation: str, ret: etree._Element, digest: str | None, signer: Signer) -> web.Response:
    body = document(operation, ret, digest, signer)
    return web.Response(body=body, content_type="text/xml", charset="utf-8")


def soap_fault(
    code: str, string: str, status: int = 500, *, user_message: str | None = None
) -> web.Response:
    root = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
    etree.SubElement(root, f"{{{SOAP_NS}}}Header")
    body = etree.SubElement(root, f"{{{SOAP_NS}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP_NS}}}Fault")
    etree.SubElement(fault, "faultcode").text = code
    etree.SubElement(fault, "faultstring").text = string
    detail = etree.SubElement(fault, "detail")
    service = VERSION.get().service_ns
    etree.SubElement(detail, f"{{{service}}}developerMessage", nsmap={"ns": service}).text = string
    if user_message is not None:
        etree.SubElement(
            detail, f"{{{service}}}userMessage", nsmap={"ns": service}
        ).text = user_message
    return web.Response(
        status=status, body=serialize(root), content_type="text/xml", charset="utf-8"
    )
