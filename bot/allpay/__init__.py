"""Allpay's SOAP services as the bot speaks them: envelopes (``protocol``), what the answers
say (``answers``), signatures (``signing``), the client (``client``). Knows nothing of
Telegram or the database. Allpay's stand-in, the sandbox (embedded when ALLPAY_URL is unset,
or ``python -m bot sandbox``), is not here: it lives in ``bot.devtools``."""

from __future__ import annotations

from bot.allpay.answers import CheckResult, ClientInfo, PayResult
from bot.allpay.client import AllpayClient
from bot.allpay.protocol import AllpayError, AllpayErrorKind, PayStatus

__all__ = [
    "AllpayClient",
    "AllpayError",
    "AllpayErrorKind",
    "CheckResult",
    "ClientInfo",
    "PayResult",
    "PayStatus",
]
