"""The login step's question to Allpay — who is this login's client? — and what the step
answers (:class:`Found`, :class:`Check`). Allpay's wire answer (``ClientInfo``) is mapped to
the domain's :class:`~bot.domain.clients.Client` here: handlers never see the wire."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.allpay.answers import CheckResult, ClientInfo
from bot.allpay.protocol import AllpayError, AllpayErrorKind
from bot.domain.clients import Client
from bot.domain.limits import LimitRefusal
from bot.domain.masking import mask_login
from bot.domain.model import Draft

log = logging.getLogger(__name__)


class ClientDirectory(Protocol):
    async def check_user(self, login: str, lang: str) -> CheckResult: ...


class Found(StrEnum):
    CLIENT = "client"  # Allpay knows the client: the amount is next
    NO_CLIENT = "no_client"  # no such login: enter it again
    REFUSED = "refused"  # Allpay refused the check with a message for people
    UNREACHABLE = "unreachable"  # no answer: the check can be retried
    LIMIT = "limit"  # the client's daily limit is used up: another client, or /cancel
    ENDED = "ended"  # the person's work was ended meanwhile (/block, /remove): start again


@dataclass(frozen=True, slots=True)
class Check:
    found: Found
    draft: Draft | None = None
    client: Client | None = None
    #: When Allpay refused with a Fault: its text (unsigned, unverified: shown as such, as
    #: text, never markup) and its faultcode.
    message: str | None = None
    code: str | None = None
    #: LIMIT: the client's limit nothing fits in today. CLIENT: the tightest daily sum limit
    #: and what is left of it (None: no sum limit is on).
    limit: LimitRefusal | None = None


async def look_up(directory: ClientDirectory, login: str, lang: str) -> Check:
    """Ask Allpay who ``login``'s client is: its answer as the login step tells it."""
    try:
        result = await directory.check_user(login, lang)
    except AllpayError as exc:
        # Allpay away is said once by its part; a Fault or a bad answer here, every time.
        level = logging.INFO if exc.kind is AllpayErrorKind.UNAVAILABLE else logging.WARNING
        log.log(level, "check %s failed: %s %s", mask_login(login), exc.kind, exc.code or "")
        if exc.kind is AllpayErrorKind.FAULT and exc.user_message:
            return Check(Found.REFUSED, message=exc.user_message, code=exc.code)
        return Check(Found.UNREACHABLE)
    if result.client is None:
        return Check(Found.NO_CLIENT)
    return Check(Found.CLIENT, client=_client(result.client))


def _client(info: ClientInfo) -> Client:
    """Allpay's wire answer as the cashier is shown it: the name cleaned, the IIN masked."""
    return Client(name=info.full_name, identified=info.identified, masked_iin=info.masked_iin)
