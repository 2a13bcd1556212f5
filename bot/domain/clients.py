"""Who a top-up's client is, as the cashier is shown it: Allpay's answer to a login, without
its wire form (``bot.allpay.answers.ClientInfo``, mapped by the cash-in use case)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Client:
    """An Allpay wallet's owner. ``name``: cleaned of control, format and bidi characters,
    spaces folded, length bounded ("—" when Allpay gave none); ``masked_iin``: the IIN as
    people may see it, None when Allpay gave none. The full IIN never leaves the wire type."""

    name: str
    identified: bool
    masked_iin: str | None = None
