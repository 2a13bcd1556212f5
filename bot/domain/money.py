"""Money: tenge as ``Decimal`` for people, integer tiyn in storage. Never float."""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

TIYN = 100


def to_tiyn(amount: Decimal) -> int:
    tiyn = amount * TIYN
    if tiyn != tiyn.to_integral_value():
        raise ValueError("amount has more than two decimal places")
    return int(tiyn)


def from_tiyn(tiyn: int) -> Decimal:
    return (Decimal(tiyn) / TIYN).quantize(Decimal(1) if tiyn % TIYN == 0 else Decimal("0.01"))


def new_guid() -> str:
    """A payment's GUID as Allpay expects it: braces around a random UUID."""
    return f"{{{uuid.uuid4()}}}"


def new_id() -> str:
    """A draft's or an approval's id: 12 URL-safe characters (short callback data)."""
    return secrets.token_urlsafe(9)
