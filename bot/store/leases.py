"""Named leases (table ``leases``): work only one process may do at a time, held by an
instance until it lets go or its lease runs out."""

from __future__ import annotations

from datetime import datetime

from bot.store.db import Tx, ts


class Leases:
    @staticmethod
    def take(tx: Tx, now: datetime, name: str, owner: str, until: datetime) -> str | None:
        """Take or renew ``name`` until ``until``; None if taken, else who holds it now."""
        tx.run(
            "INSERT INTO leases (name, owner, until) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until "
            "WHERE leases.until <= ? OR leases.owner = excluded.owner",
            (name, owner, ts(until), ts(now)),
        )
        holder = tx.value("SELECT owner FROM leases WHERE name = ?", (name,))
        return None if holder == owner else str(holder)

    @staticmethod
    def release(tx: Tx, name: str, owner: str) -> None:
        tx.run("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))
