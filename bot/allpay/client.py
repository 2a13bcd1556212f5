"""The Allpay Cash-In client: one long-lived aiohttp session, signed both ways.

``pay`` never raises for anything Allpay or the network does: every failure is a PENDING
result carrying its cause (contract 4.3), so a confirmed payment is never lost to an exception
and never shown as completed without a verified answer. ``check_user`` raises
:class:`AllpayError` with a kind the bot can explain.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Protocol, TypeVar

import aiohttp
from lxml import etree

from bot.allpay.answers import (
    BalanceResult,
    CheckResult,
    PayResult,
    SoapFault,
    parse_balance_answer,
    parse_check_answer,
    parse_echo_answer,
    parse_pay_answer,
    raise_for_fault,
)
from bot.allpay.protocol import (
    MAX_ANSWER_BYTES,
    OP_AVAILABLE_BALANCE,
    OP_CASH_IN,
    OP_CHECK_AND_VALIDATE,
    OP_ECHO,
    AllpayError,
    AllpayErrorKind,
    ApiVersion,
    InvalidAnswer,
    PayStatus,
    build_available_balance,
    build_cash_in,
    build_check_user,
    build_echo,
    parse_document,
    serialize,
    soap_parts,
)
from bot.allpay.signing import SignatureError, Signer, Verifier
from bot.domain.masking import mask_login
from bot.infra.outage import Part

log = logging.getLogger(__name__)

T = TypeVar("T")


class CallObserver(Protocol):
    """Told about every call: for metrics. ``error`` is None on a trustworthy answer."""

    def __call__(self, operation: str, seconds: float, error: str | None) -> None: ...


@dataclass(frozen=True, slots=True)
class _Raw:
    http_status: int
    body: bytes


class _TooLarge(Exception):
    pass


class AllpayClient:
    def __init__(
        self,
        url: str,
        *,
        requester: str,
        signer: Signer,
        verifier: Verifier,
        timeout: float,
        token: str | None = None,
        tm_url: str | None = None,
        tz: tzinfo,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        observer: CallObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
        version: ApiVersion = ApiVersion.V1_1,
    ) -> None:
        self.url = url
        self.version = version
        self.tm_url = tm_url
        self.requester = requester
        self._signer = signer
        self._verifier = verifier
        self._timeout = timeout
        self._token = token
        self._tz = tz
        self._max_answer_bytes = max_answer_bytes
        self._observer = observer
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self.last_success: datetime | None = None
        #: Whether Allpay answers at all: one log line when it stops, one when it is back.
        self.part = Part("Allpay")

    async def __aenter__(self) -> AllpayClient:
        self._ensure_session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                connector=aiohttp.TCPConnector(limit=64, enable_cleanup_closed=True),
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ operations

    async def check_user(self, login: str, lang: str) -> CheckResult:
        """``checkUserAndValidateCashIn``; raises :class:`AllpayError` on any failure."""
        root = build_check_user(
            login=login,
            lang=lang,
            timestamp=self._now(),
            requester=self.requester,
            token=self._token,
            version=self.version,
        )
        result = await self._call(
            OP_CHECK_AND_VALIDATE,
            root,
            lambda payload: parse_check_answer(payload, OP_CHECK_AND_VALIDATE, self.version),
            self.url,
        )
        log.info("checkUser %s: found=%s", mask_login(login), result.found)
        return result

    async def available_balance(self, lang: str) -> BalanceResult:
        """The agent's balance (``availableBalance`` on TransactionManagement/1.1).

        Raises :class:`AllpayError`; UNAVAILABLE when no ``tm_url`` is configured.
        """
        if self.tm_url is None:
            raise AllpayError(AllpayErrorKind.UNAVAILABLE, "ALLPAY_TM_URL is not set")
        root = build_available_balance(
            lang=lang,
            timestamp=self._now(),
            requester=self.requester,
            token=self._token,
            version=self.version,
        )
        return await self._call(
            OP_AVAILABLE_BALANCE,
            root,
            lambda payload: parse_balance_answer(payload, self.version),
            self.tm_url,
        )

    async def echo(self, message: str) -> str:
        """``echo``, signed with the configured certificate; the verified answer's message.
        Raises :class:`AllpayError` (a pre-flight check: keys, certificate, endpoint)."""
        root = build_echo(message, self.version)
        return await self._call(
            OP_ECHO, root, lambda payload: parse_echo_answer(payload, self.version), self.url
        )

    async def _call(
        self,
        operation: str,
        root: etree._Element,
        parse: Callable[[etree._Element], T],
        url: str,
    ) -> T:
        """One request whose failure is the caller's to report: errors become AllpayError."""
        started = self._clock()
        try:
            result = parse(await self._exchange(operation, root, url))
        except SoapFault as fault:
            self._observe(operation, started, "fault")
            raise AllpayError(
                AllpayErrorKind.FAULT, fault.string, fault.user_message, fault.code
            ) from None
        except (_Unavailable, InvalidAnswer, SignatureError) as exc:
            kind = (
                AllpayErrorKind.UNAVAILABLE
                if isinstance(exc, _Unavailable)
                else AllpayErrorKind.INVALID
            )
            self._observe(operation, started, kind.value)
            raise AllpayError(kind, str(exc)) from None
        self._observe(operation, started, None)
        return result

    async def pay(self, guid: str, login: str, amount: Decimal, lang: str) -> PayResult:
        """``createCashInPayment``. Never raises (but for cancellation); failures are PENDING."""
        started = self._clock()
        try:
            root = build_cash_in(
                guid=guid,
                login=login,
                amount=amount,
                lang=lang,
                timestamp=self._now(),
                requester=self.requester,
                token=self._token,
                version=self.version,
            )
            payload = await self._exchange(OP_CASH_IN, root, self.url)
            result = parse_pay_answer(payload, self.version)
        except asyncio.CancelledError:
            raise
        except SoapFault as fault:
            # Unsigned (anyone on the way can write one): its text is quoted as unverified.
            cause = f"SOAP Fault {fault.code or '?'}, unverified text: «{fault.string}»"
            return self._pending(guid, started, "fault", cause)
        except _Unavailable as exc:
            return self._pending(guid, started, exc.kind, str(exc))
        except (InvalidAnswer, SignatureError) as exc:
            return self._pending(guid, started, "invalid", str(exc))
        except Exception as exc:  # a bug must not lose a payment: it stays PENDING
            log.exception("pay %s: unexpected error", guid)
            return self._pending(guid, started, "internal", f"{type(exc).__name__}: {exc}")
        self._observe(OP_CASH_IN, started, None)
        log.info("pay %s: %s", guid, result.status)
        return result

    # ------------------------------------------------------------------ internals

    def _now(self) -> datetime:
        return datetime.now(self._tz)

    def _observe(self, operation: str, started: float, error: str | None) -> None:
        if error is None:
            self.last_success = datetime.now(self._tz)
        if self._observer is not None:
            self._observer(operation, self._clock() - started, error)

    def _pending(self, guid: str, started: float, kind: str, cause: str) -> PayResult:
        self._observe(OP_CASH_IN, started, kind)
        # Allpay away is said once by its part; a payment left pending by it, quietly.
        level = logging.INFO if kind in _AWAY else logging.WARNING
        log.log(level, "pay %s: no final answer (%s): %s", guid, kind, cause)
        return PayResult(status=PayStatus.PENDING, cause=f"{kind}: {cause}")

    async def _exchange(self, operation: str, root: etree._Element, url: str) -> etree._Element:
        """Sign, send, read (bounded), parse, verify; return the Body's payload element."""
        digest = self._signer.sign(root)  # every request: its answer must name this digest
        raw = await self._post(operation, serialize(root), url)
        try:
            answer = parse_document(raw.body, limit=self._max_answer_bytes)
            _, payload = soap_parts(answer)
        except InvalidAnswer as exc:
            if raw.http_status >= 500:
                raise _Unavailable("http", f"HTTP {raw.http_status}") from None
            raise InvalidAnswer(f"HTTP {raw.http_status}: {exc}") from None
        # A Fault is reported as such, signed or not: it never means success.
        raise_for_fault(payload)
        if raw.http_status != 200:
            raise _Unavailable("http", f"HTTP {raw.http_status} with a non-Fault body")
        verified = self._verifier.verify(answer)  # every answer: there is no unverified path
        if digest is not None and verified.request_dsig != digest:
            raise SignatureError("requestDsig does not match the request's digest")
        return payload

    async def _post(self, operation: str, body: bytes, url: str) -> _Raw:
        session = self._ensure_session()
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{operation}"'}
        sent = time.monotonic()
        try:
            async with session.post(url, data=body, headers=headers) as response:
                declared = response.content_length
                if declared is not None and declared > self._max_answer_bytes:
                    raise _TooLarge
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > self._max_answer_bytes:
                        raise _TooLarge
                    chunks.append(chunk)
                log.debug(
                    "%s: HTTP %d, %d bytes in %.0f ms",
                    operation,
                    response.status,
                    size,
                    (time.monotonic() - sent) * 1000,
                )
                self.part.answered()
                return _Raw(response.status, b"".join(chunks))
        except _TooLarge:
            raise InvalidAnswer(f"answer larger than {self._max_answer_bytes} bytes") from None
        except TimeoutError:
            self.part.failed(f"no answer within {self._timeout:g} s")
            raise _Unavailable("timeout", f"no answer within {self._timeout:g} s") from None
        except aiohttp.ClientError as exc:
            self.part.failed(type(exc).__name__)
            raise _Unavailable("connection", f"{type(exc).__name__}: {exc}") from None


#: The kinds of "no final answer" that mean Allpay could not be reached (its part says so).
_AWAY = frozenset({"timeout", "connection", "http"})


class _Unavailable(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
