"""The desk's JSON: what the use cases' figures look like on the wire. Money is a decimal
string in tenge ("1500.00"), never a float; moments are ISO-8601 with their offset; names,
logins and Allpay's words are plain strings the page inserts as text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.domain.cash import CashPosition, Handover
from bot.domain.masking import mask_login
from bot.domain.model import Approval, Payment, Status
from bot.usecases.dashboard import DayFigures, Figures

Json = dict[str, Any]


def money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _name(user_id: int | None, names: Mapping[int, str]) -> str | None:
    return None if user_id is None else names.get(user_id) or str(user_id)


def figures(value: Figures) -> Json:
    return {"count": value.count, "amount": money(value.amount), "fee": money(value.fee)}


def day(value: DayFigures) -> Json:
    by_status = {s.value.lower(): figures(value.by_status.get(s, Figures())) for s in Status}
    ranked = sorted(
        value.by_cashier.items(),
        key=lambda item: (-item[1].get(Status.COMPLETED, Figures()).amount, item[0]),
    )
    cashiers = [
        {
            "id": cashier_id,
            "name": _name(cashier_id, value.names),
            "count": sum(f.count for f in per.values()),
            "completed": figures(per.get(Status.COMPLETED, Figures())),
            "by_status": {s.value.lower(): f.count for s, f in per.items()},
        }
        for cashier_id, per in ranked
    ]
    return {
        "day": value.day.isoformat(),
        "count": value.count,
        "amount": money(value.amount),
        "fees": money(value.fees),
        "cash_accepted": money(value.cash_accepted),
        "by_status": by_status,
        "hourly": value.hourly,
        "hourly_average": [f"{a:.2f}" for a in value.hourly_average],
        "cashiers": cashiers,
    }


def payment(
    value: Payment, names: Mapping[int, str], now: datetime, *, full_login: bool = False
) -> Json:
    """A top-up: in a list its login masked, as the chat's lists have it; in full only in
    the detail of one (``full_login``), as ``/find``'s card."""
    return {
        "guid": value.guid,
        "status": value.status.value.lower(),
        "icon": value.status.icon,
        "amount": money(value.amount),
        "fee": money(value.fee),
        "login": value.login if full_login else mask_login(value.login),
        "client": value.client_name,
        "cashier_id": value.cashier_id,
        "cashier": _name(value.cashier_id, names),
        "created": moment(value.created_at),
        "final": moment(value.final_at),
        "age_seconds": max(0, int((now - value.created_at).total_seconds())),
        "attempts": value.attempts,
        "receipt_no": value.receipt_no,
        "allpay_message": value.user_message,
    }


def approval(value: Approval, names: Mapping[int, str], viewer_id: int) -> Json:
    return {
        "id": value.id,
        "state": value.state.value.lower(),
        "amount": money(value.amount),
        "fee": money(value.fee),
        "cash": money(value.cash),
        "login": mask_login(value.login),  # as the chat's approval cards
        "client": value.client_name,
        "identified": value.identified,
        "cashier_id": value.cashier_id,
        "cashier": _name(value.cashier_id, names),
        "created": moment(value.created_at),
        "expires": moment(value.expires_at),
        # A person's own request is shown without buttons: someone else decides it.
        "own": value.cashier_id == viewer_id,
    }


def handover(value: Handover, names: Mapping[int, str], viewer_id: int) -> Json:
    return {
        "id": value.id,
        "cashier_id": value.cashier_id,
        "cashier": _name(value.cashier_id, names),
        "expected": money(value.expected),
        "declared": money(value.declared),
        "pending": money(value.pending),
        "created": moment(value.created_at),
        "own": value.cashier_id == viewer_id,
        "for_someone_else": value.receiver_id is not None and value.receiver_id != viewer_id,
    }


def position(value: CashPosition, names: Mapping[int, str]) -> Json:
    return {
        "cashier_id": value.cashier_id,
        "cashier": _name(value.cashier_id, names),
        "collected": money(value.collected),
        "count": value.count,
        "since": moment(value.since),
        "unresolved": money(value.unresolved),
        "unresolved_count": value.unresolved_count,
        "waiting": value.waiting.id if value.waiting is not None else None,
    }
