"""The daily limits, counted inside a transaction: what a local day has used so far.

Payments sent (or possibly sent) and requests waiting for approval count against the day
they were made on. A payment made from an approval is paid on the day it is approved: its
limits are checked again then (:meth:`bot.usecases.approvals.ApprovalDesk.decide`), so a
request waiting across midnight cannot double the new day's limit.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal

from bot.domain.limits import LimitRefusal, Limits, Usage
from bot.domain.reports import day_bounds, local_today
from bot.store.approvals import Approvals
from bot.store.db import Tx
from bot.store.payments import Payments


def day_of(moment: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of the local day (``TIMEZONE``) of ``moment``: what daily limits count."""
    today = local_today(moment, tz)
    return day_bounds(today, today, tz)


def usage_in(
    tx: Tx,
    limits: Limits,
    *,
    cashier_id: int,
    login: str | None,
    day: tuple[datetime, datetime],
    waiting_except: str | None = None,
) -> tuple[Usage, Usage]:
    """What ``day`` has used of the cashier's and (``login``) the client's limits: its
    payments and its waiting requests (but ``waiting_except``, the request being decided).
    A limit that is off is not counted (its usage reads as none)."""
    cashier = client = Usage()
    if limits.counts_cashier:
        cashier = Payments.usage(tx, "cashier_id", cashier_id, day) + Approvals.usage(
            tx, "cashier_id", cashier_id, day, waiting_except
        )
    if limits.counts_client and login is not None:
        client = Payments.usage(tx, "login", login, day) + Approvals.usage(
            tx, "login", login, day, waiting_except
        )
    return cashier, client


def refusal_in(
    tx: Tx,
    limits: Limits,
    *,
    cashier_id: int,
    login: str,
    amount: Decimal,
    day: tuple[datetime, datetime],
    waiting_except: str | None = None,
) -> LimitRefusal | None:
    """Why ``amount`` may not be topped up on ``day`` (None if it may)."""
    cashier, client = usage_in(
        tx, limits, cashier_id=cashier_id, login=login, day=day, waiting_except=waiting_except
    )
    return limits.refusal(amount, cashier, client)
