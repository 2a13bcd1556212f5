"""Allpay's SOAP Cash-In protocol: envelopes, signatures, the client. Knows nothing of Telegram
(the sandbox that stands in for Allpay is bot/devtools/sandbox/)."""

from __future__ import annotations

from bot.allpay.client import AllpayClient
from bot.allpay.protocol import (
    AllpayError,
    AllpayErrorKind,
    CheckResult,
    ClientInfo,
    PayResult,
    PayStatus,
)

__all__ = [
    "AllpayClient",
    "AllpayError",
    "AllpayErrorKind",
    "CheckResult",
    "ClientInfo",
    "PayResult",
    "PayStatus",
]
