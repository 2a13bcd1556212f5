"""The agent's Allpay balance, watched: where it stood when last asked, and what supervisors
are told when it falls below the mark (``BALANCE_ALERT_BELOW``) or is back above it. Pure
code: the watch itself is :mod:`bot.usecases.balance`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class BalanceState:
    """The balance as last seen, shared by every instance (table ``balance_watch``)."""

    #: Below the mark at the last answer, and since when it has been on this side of it.
    below: bool
    since: datetime
    #: Allpay's last figure, and when it was given.
    balance: Decimal
    checked_at: datetime


@dataclass(frozen=True, slots=True)
class Forecast:
    """Until when the balance lasts at today's pace (what the day's top-ups took or may take,
    per hour since the first; the desk's Balance screen shows the same moment).

    ``pace`` None: nothing spent today, or too little of the day behind to tell.
    ``runs_out_at`` None with a pace: further off than :data:`bot.usecases.balance.HORIZON`."""

    pace: Decimal | None = None
    hours_left: Decimal | None = None
    runs_out_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BalanceAlert:
    """One message to supervisors: the balance fell below ``threshold`` (``below``) or is
    back above it; the figures as they were then, kept with the message (outbox ``ref``)."""

    below: bool
    balance: Decimal
    threshold: Decimal
    at: datetime
    forecast: Forecast = Forecast()

    def to_ref(self) -> str:
        """Its stored form: fields joined by ``;`` (money as decimal text, moments ISO)."""
        cast = self.forecast
        return ";".join(
            [
                "below" if self.below else "back",
                str(self.balance),
                str(self.threshold),
                self.at.isoformat(),
                "" if cast.pace is None else str(cast.pace),
                "" if cast.hours_left is None else str(cast.hours_left),
                "" if cast.runs_out_at is None else cast.runs_out_at.isoformat(),
            ]
        )

    @classmethod
    def from_ref(cls, ref: str) -> BalanceAlert:
        """Raises ValueError on anything :meth:`to_ref` did not write."""
        parts = ref.split(";")
        if len(parts) != 7 or parts[0] not in ("below", "back"):
            raise ValueError("not a balance alert")
        side, balance, threshold, at, pace, hours, until = parts
        forecast = Forecast(
            Decimal(pace) if pace else None,
            Decimal(hours) if hours else None,
            datetime.fromisoformat(until) if until else None,
        )
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive moment")
        return cls(side == "below", Decimal(balance), Decimal(threshold), moment, forecast)
