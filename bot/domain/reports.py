"""What supervisors ask of the journal: days, ranges, look-ups, totals and CSV. Pure code.

Dates people type are local days in ``TIMEZONE``; the journal stores UTC. A local day is
[00:00, next 00:00) in that zone, so a payment at 23:59 Almaty belongs to that Almaty day.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum

from bot.domain.cash import Handover
from bot.domain.model import Payment, Status, Totals
from bot.domain.parsing import normalize_login

MAX_RANGE_DAYS = 93
_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_LOCAL_DAY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_GUID_PREFIX = re.compile(r"[0-9a-f-]+")
MIN_PREFIX_HEX = 8


@dataclass(frozen=True, slots=True)
class AgentBalance:
    """The agent's balance in Allpay as of ``as_of`` (Allpay's clock): ``amount`` when
    Allpay's text is a plain decimal number, else None (show ``raw``, its text)."""

    amount: Decimal | None
    raw: str
    as_of: datetime


class PeriodProblem(StrEnum):
    BAD_DATE = "bad_date"
    REVERSED = "reversed"
    TOO_LONG = "too_long"
    TOO_MANY = "too_many"


@dataclass(frozen=True, slots=True)
class PeriodError(Exception):
    problem: PeriodProblem
    text: str = ""


def parse_day(text: str) -> date:
    """``2026-11-28`` or ``28.11.2026``; raises :class:`PeriodError` (BAD_DATE)."""
    value = text.strip()
    try:
        day: date | None = None
        if m := _ISO_DAY.fullmatch(value):
            day = date(int(m[1]), int(m[2]), int(m[3]))
        elif m := _LOCAL_DAY.fullmatch(value):
            day = date(int(m[3]), int(m[2]), int(m[1]))
        # Days a journal can hold: year 1 or 9999 would overflow the day's bounds.
        if day is not None and 2000 <= day.year <= 2999:
            return day
    except ValueError:
        pass
    raise PeriodError(PeriodProblem.BAD_DATE, value[:40])


def parse_period(args: Sequence[str], today: date) -> tuple[date, date]:
    """``[]`` → today; ``[day]`` → that day; ``[from, to]`` → both days inclusive."""
    if len(args) > 2:
        raise PeriodError(PeriodProblem.TOO_MANY)
    if not args:
        return today, today
    first = parse_day(args[0])
    last = parse_day(args[1]) if len(args) == 2 else first
    if first > last:
        raise PeriodError(PeriodProblem.REVERSED)
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise PeriodError(PeriodProblem.TOO_LONG)
    return first, last


def day_bounds(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start of ``first``, start of the day after ``last``) in ``tz``, as aware datetimes."""
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def local_today(now: datetime, tz: tzinfo) -> date:
    return now.astimezone(tz).date()


# ---------------------------------------------------------------- /find


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a /find query can mean: a GUID (prefix) and/or a client login."""

    guid_prefix: str | None
    login: str | None


def parse_lookup(query: str) -> Lookup | None:
    """A full GUID (braces optional), a GUID prefix of at least 8 hex digits, or a login.

    Digits alone can be both a GUID prefix and a phone number: then both are searched.
    None when the query is neither.
    """
    text = query.strip()
    login = normalize_login(text)
    compact = text.strip("{}").strip().lower()
    prefix: str | None = None
    if (
        _GUID_PREFIX.fullmatch(compact)
        and sum(c != "-" for c in compact) >= MIN_PREFIX_HEX
        and len(compact) <= 36
    ):
        prefix = compact
    if prefix is None and login is None:
        return None
    return Lookup(prefix, login)


# ---------------------------------------------------------------- totals


@dataclass
class Tally:
    count: int = 0
    amount: Decimal = Decimal(0)

    def add(self, count: int, amount: Decimal) -> None:
        self.count += count
        self.amount += amount


@dataclass
class Summary:
    """Totals per cashier and status, and overall per status."""

    per_cashier: dict[int, dict[Status, Tally]] = field(default_factory=dict)
    overall: dict[Status, Tally] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.overall


def summarize(rows: Iterable[Totals]) -> Summary:
    summary = Summary()
    for row in rows:
        summary.per_cashier.setdefault(row.cashier_id, {}).setdefault(row.status, Tally()).add(
            row.count, row.amount
        )
        summary.overall.setdefault(row.status, Tally()).add(row.count, row.amount)
    return summary


# ---------------------------------------------------------------- CSV

#: The payments' export, column by column: the CSV's header (stable codes, listed in the
#: README) and the XLSX's first sheet (the same columns in this order, titled in the
#: reader's language).
CSV_COLUMNS = (
    "created_local",
    "final_local",
    "status",
    "amount_kzt",
    "fee_kzt",
    "cash_accepted_kzt",
    "cash_held_kzt",
    "client_login",
    "client_name",
    "cashier_id",
    "cashier_name",
    "guid",
    "receipt_no",
    "attempts",
    "allpay_message",
)
#: Where the cash of a top-up is. ✅ kept: the agent's, counted in the cashier's cash on
#: hand and handed over. ⏳/⚠️ held: taken from the client and kept apart until Allpay's
#: final word (or a supervisor's reconciliation) says whether it is kept or given back.
#: ❌ neither: it was given back.
CASH_KEPT = (Status.COMPLETED,)
CASH_HELD = (Status.NEW, Status.PENDING, Status.UNKNOWN)

#: One value per :data:`CSV_COLUMNS`: times (aware), the status, exact amounts, ids and text.
ExportValue = datetime | Status | Decimal | int | str | None


def cash_accepted(payment: Payment) -> Decimal | None:
    """The cash the agent kept (amount + fee): ✅ only."""
    return payment.cash if payment.status in CASH_KEPT else None


def cash_held(payment: Payment) -> Decimal | None:
    """The cash taken and kept apart until Allpay's final word: ⏳ and ⚠️."""
    return payment.cash if payment.status in CASH_HELD else None


def export_row(payment: Payment, names: Mapping[int, str]) -> tuple[ExportValue, ...]:
    """The payment's values in :data:`CSV_COLUMNS` order, for both the CSV and the XLSX."""
    p = payment
    return (
        p.created_at,
        p.final_at,
        p.status,
        p.amount,
        p.fee,
        cash_accepted(p),
        cash_held(p),
        p.login,
        p.client_name,
        p.cashier_id,
        names.get(p.cashier_id, ""),
        p.guid,
        p.receipt_no,
        p.attempts,
        p.user_message or "",
    )


def _local(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _cell(value: str) -> str:
    """Text Excel would run as a formula (=, +, -, @) is prefixed with an apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv_value(value: ExportValue, tz: tzinfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _local(value, tz)
    if isinstance(value, Status):
        return value.value  # the stable code: NEW, PENDING, COMPLETED, DECLINED, UNKNOWN
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, int):
        return str(value)
    return _cell(value)


def export_csv(payments: Iterable[Payment], names: Mapping[int, str], tz: tzinfo) -> bytes:
    """UTF-8 with BOM (Excel then reads Cyrillic right), ``;``-separated as Excel expects in
    ru/kk locales; amounts exact with two decimals; one header row, one row per payment."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p in payments:
        writer.writerow([_csv_value(value, tz) for value in export_row(p, names)])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


HANDOVER_CSV_COLUMNS = (
    "handover_no",
    "declared_local",
    "cashier_id",
    "cashier_name",
    "state",
    "expected_kzt",
    "declared_kzt",
    "received_kzt",
    "variance_kzt",
    "receiver_id",
    "answered_by",
    "answered_local",
    "written_off_by",
    "written_off_local",
    "write_off_reason",
)


def _kzt(amount: Decimal | None) -> str:
    return f"{amount:.2f}" if amount is not None else ""


def _id(value: int | None) -> str:
    return str(value) if value is not None else ""


def export_handovers_csv(
    handovers: Iterable[Handover], names: Mapping[int, str], tz: tzinfo
) -> bytes:
    """The cash handovers of a period, in the payments CSV's form (BOM, ``;``, exact
    amounts); a handover recorded on a cashier's behalf has no declared amount."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HANDOVER_CSV_COLUMNS)
    for h in handovers:
        writer.writerow(
            [
                str(h.id),
                _local(h.created_at, tz),
                str(h.cashier_id),
                _cell(names.get(h.cashier_id, "")),
                h.state.value,
                _kzt(h.expected),
                _kzt(h.declared),
                _kzt(h.received),
                _kzt(h.variance) if h.received is not None else "",
                _id(h.receiver_id),
                _id(h.decided_by),
                _local(h.decided_at, tz),
                _id(h.written_off_by),
                _local(h.written_off_at, tz),
                _cell(h.write_off_reason or ""),
            ]
        )
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
