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
    def clear(tx: Tx) -> None:
        """No leases at all (a restored copy)."""
        tx.run("DELETE FROM leases")

    @staticmethod
    def release(tx: Tx, name: str, owner: str) -> None:
        tx.run("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    @staticmethod
    def take_over(tx: Tx, name: str, owner: str, until: datetime, previous: str) -> bool:
        """Take ``name`` from ``previous``, known dead; False if it changed hands meanwhile."""
        return (
            tx.run(
                "UPDATE leases SET owner = ?, until = ? WHERE name = ? AND owner = ?",
                (owner, ts(until), name, previous),
            )
            == 1
        )

    @staticmethod
    def holders(tx: Tx, now: datetime, prefix: str) -> list[tuple[str, str]]:
        """Live leases whose name starts with ``prefix``: (name, owner)."""
        rows = tx.all(
            "SELECT name, owner FROM leases "
            "WHERE substr(name, 1, CAST(? AS INTEGER)) = ? AND until > ?",
            (len(prefix), prefix, ts(now)),
        )
        return [(str(r["name"]), str(r["owner"])) for r in rows]

    @staticmethod
    def release_earlier(tx: Tx, prefix: str, owner: str) -> int:
        """Leases of earlier lives of this process (owners starting with ``prefix``, not
        ``owner``): a restart takes them back."""
        return tx.run(
            "DELETE FROM leases WHERE substr(owner, 1, CAST(? AS INTEGER)) = ? AND owner != ?",
            (len(prefix), prefix, owner),
        )
