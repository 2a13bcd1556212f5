"""Who is calling the desk's API: Telegram's signed launch data (``initData``), sent as
``Authorization: tma <initData>`` on every call — checked with aiogram's own
``safe_parse_webapp_init_data`` (HMAC-SHA256 keyed by the bot token), refused once older than
``WEBAPP_MAX_AGE``. Whether the person may see the desk *now* (an active supervisor or admin)
is the API's question, asked of the roster on every call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from aiogram.utils.web_app import WebAppUser, safe_parse_webapp_init_data

SCHEME = "tma "
#: Launch data from a clock a little ahead of ours is still good (Telegram's servers sign it).
CLOCK_SKEW = timedelta(seconds=60)


class Refusal(StrEnum):
    """Why a call is not the desk's (the page shows each as "reopen the desk")."""

    MISSING = "missing"  # no Authorization: tma …
    FORGED = "forged"  # the signature does not match this bot's token
    EXPIRED = "expired"  # older than WEBAPP_MAX_AGE (or from the future)
    NO_USER = "no_user"  # signed, but it names nobody


@dataclass(frozen=True, slots=True)
class Caller:
    user: WebAppUser
    signed_at: datetime


def check(header: str | None, token: str, now: datetime, max_age: float) -> Caller | Refusal:
    """The caller this ``Authorization`` header proves, or why it proves nothing."""
    if header is None or not header.startswith(SCHEME):
        return Refusal.MISSING
    init_data = header[len(SCHEME) :].strip()
    if not init_data:
        return Refusal.MISSING
    try:
        data = safe_parse_webapp_init_data(token, init_data)
    except ValueError:  # a wrong hash, another bot's, or fields that do not parse
        return Refusal.FORGED
    signed_at = data.auth_date
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    age = now - signed_at
    if age > timedelta(seconds=max_age) or age < -CLOCK_SKEW:
        return Refusal.EXPIRED
    if data.user is None:
        return Refusal.NO_USER
    return Caller(data.user, signed_at)
