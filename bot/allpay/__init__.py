"""Allpay's SOAP Cash-In protocol: client, signing and sandbox. Knows nothing of Telegram."""

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
