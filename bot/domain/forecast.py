"""How long the agent's prepaid balance lasts at the day's pace: pure arithmetic over what the
use cases read (the top-ups sent today, since when), no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

#: Less than this of the day behind us says nothing about its pace (the first top-up of the
#: morning would promise the balance runs out by noon).
MIN_SPAN = timedelta(minutes=30)


def runs_out_at(
    balance: Decimal, spent: Decimal, since: datetime, now: datetime
) -> datetime | None:
    """When ``balance`` is used up if top-ups go on as ``spent`` went from ``since`` to
    ``now``: None when nothing was spent, the span is too short to tell, or the balance is
    not positive (then it is out already: the caller says so)."""
    span = now - since
    if spent <= 0 or balance <= 0 or span < MIN_SPAN:
        return None
    per_second = spent / Decimal(span.total_seconds())
    seconds = balance / per_second
    # Beyond a year the figure says nothing a supervisor acts on.
    if seconds > Decimal(366 * 86400):
        return None
    return now + timedelta(seconds=float(seconds))
