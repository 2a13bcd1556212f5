"""Which days' digests were queued (table ``digests``): each day's at most once, ever."""

from __future__ import annotations

from datetime import date, datetime

from bot.store.db import Tx, ts


class Digests:
    @staticmethod
    def claim(tx: Tx, day: date, now: datetime) -> bool:
        """Mark ``day``'s digest as queued; False if it was already."""
        return (
            tx.run(
                "INSERT INTO digests (day, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (day.isoformat(), ts(now)),
            )
            == 1
        )

    @staticmethod
    def last_day(tx: Tx) -> date | None:
        value = tx.value("SELECT MAX(day) FROM digests")
        return date.fromisoformat(value) if value else None
