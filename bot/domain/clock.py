"""The one clock: timezone-aware UTC (tests and loops pass their own ``clock``)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_day_bounds(now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of the local day (``TIMEZONE``) that ``now`` falls in."""
    local = now.astimezone(tz).date()
    start = datetime.combine(local, time(0), tzinfo=tz)
    return start, datetime.combine(local + timedelta(days=1), time(0), tzinfo=tz)
