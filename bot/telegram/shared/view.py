"""What a handler's words need to know of the bot (:class:`View`): the reader's language, the
time zone, whether the embedded sandbox answers, the amounts a top-up may have and its fee.
Given to every handler as ``view`` by :class:`bot.telegram.runtime.view.ViewMiddleware`:
handlers never read the whole ``Settings``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class View:
    #: The reader's language (the one texts are made in for this update).
    locale: str
    tz: tzinfo
    #: The embedded sandbox answers: what is shown says no real money moves.
    sandbox: bool
    #: A top-up's smallest and largest amount (whole tenge).
    amount_min: Decimal
    amount_max: Decimal
    #: The fee the cashier takes in cash on top of each amount.
    fee: Decimal
    #: From this amount on, a top-up waits for a supervisor's approval.
    approval_threshold: Decimal
    #: The supervisor's desk's address (``WEBAPP_URL``; None: no desk).
    webapp_url: str | None = None
