"""Telegram's updates as they arrive (table ``updates``): kept before Telegram is told, claimed
by the process handling them, marked done when their handler has finished."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.store.db import Tx, marks, parse_ts, ts


@dataclass(frozen=True, slots=True)
class KeptUpdate:
    update_id: int
    body: str
    attempts: int


class Updates:
    @staticmethod
    def keep(
        tx: Tx,
        now: datetime,
        updates: Sequence[tuple[int, int, str]],
        owner: str,
        until: datetime,
    ) -> list[int]:
        """Keep ``(update_id, sender_id, JSON)``, claimed by ``owner``; returns the ids that
        were new (one Telegram sent again, already kept, is another's or handled)."""
        fresh: list[int] = []
        for update_id, sender_id, body in updates:
            inserted = tx.run(
                "INSERT INTO updates (update_id, sender_id, body, received_at, claim_owner, "
                "claim_until, attempts) VALUES (?, ?, ?, ?, ?, ?, 1) "
                "ON CONFLICT (update_id) DO NOTHING",
                (update_id, sender_id, body, ts(now), owner, ts(until)),
            )
            if inserted:
                fresh.append(update_id)
        return fresh

    @staticmethod
    def done(tx: Tx, now: datetime, update_ids: Iterable[int]) -> None:
        ids = list(update_ids)
        if ids:
            tx.run(
                # What people typed is not kept past its handling: the id is enough to
                # know the update again.
                "UPDATE updates SET done_at = ?, body = '', claim_owner = NULL, "
                f"claim_until = NULL WHERE update_id IN ({marks(ids)})",
                (ts(now), *ids),
            )

    @staticmethod
    def renew(tx: Tx, update_ids: Sequence[int], owner: str, until: datetime) -> None:
        ids = list(update_ids)
        if ids:
            tx.run(
                "UPDATE updates SET claim_until = ? WHERE claim_owner = ? AND done_at IS NULL "
                f"AND update_id IN ({marks(ids)})",
                (ts(until), owner, *ids),
            )

    @staticmethod
    def claim_lapsed(
        tx: Tx, now: datetime, owner: str, until: datetime, limit: int
    ) -> list[KeptUpdate]:
        """Unfinished updates nobody holds (their process died, or let them go), claimed for
        ``owner``, oldest first; each claim counts an attempt. One whose sender has sent a
        later update is not handled again but marked done: that person has gone on (a step
        is typed after the answer to the one before)."""
        rows = tx.all(
            "SELECT u.update_id, EXISTS (SELECT 1 FROM updates n WHERE n.sender_id = u.sender_id "
            "AND n.sender_id != 0 AND n.update_id > u.update_id) AS superseded "
            "FROM updates u WHERE u.done_at IS NULL "
            "AND (u.claim_until IS NULL OR u.claim_until <= ?) ORDER BY u.update_id LIMIT ?",
            (ts(now), limit),
        )
        Updates.done(tx, now, [int(r["update_id"]) for r in rows if r["superseded"]])
        ids = [int(r["update_id"]) for r in rows if not r["superseded"]]
        if not ids:
            return []
        tx.run(
            "UPDATE updates SET claim_owner = ?, claim_until = ?, attempts = attempts + 1 "
            f"WHERE update_id IN ({marks(ids)})",
            (owner, ts(until), *ids),
        )
        found = tx.all(
            f"SELECT update_id, body, attempts FROM updates WHERE update_id IN ({marks(ids)}) "
            "ORDER BY update_id",
            ids,
        )
        return [KeptUpdate(int(r["update_id"]), str(r["body"]), int(r["attempts"])) for r in found]

    @staticmethod
    def next_lapse(tx: Tx) -> datetime | None:
        """When the earliest claim on an unfinished update runs out."""
        value = tx.value(
            "SELECT MIN(COALESCE(claim_until, received_at)) FROM updates WHERE done_at IS NULL"
        )
        return parse_ts(value) if value else None

    @staticmethod
    def release(tx: Tx, owner: str, *, earlier_than: str | None = None) -> int:
        """Let go of unfinished updates: this process's at shutdown, or (``earlier_than``
        given, ``owner`` a prefix) what its earlier lives held, at a restart."""
        if earlier_than is None:
            return tx.run(
                "UPDATE updates SET claim_owner = NULL, claim_until = NULL "
                "WHERE claim_owner = ? AND done_at IS NULL",
                (owner,),
            )
        return tx.run(
            "UPDATE updates SET claim_owner = NULL, claim_until = NULL "
            "WHERE substr(claim_owner, 1, CAST(? AS INTEGER)) = ? AND claim_owner != ? "
            "AND done_at IS NULL",
            (len(owner), owner, earlier_than),
        )

    @staticmethod
    def prune(tx: Tx, before: datetime) -> int:
        """Handled updates older than ``before``: Telegram never sends those again."""
        return tx.run(
            "DELETE FROM updates WHERE done_at IS NOT NULL AND done_at < ?", (ts(before),)
        )

    @staticmethod
    def forget_unfinished(tx: Tx) -> None:
        """A restored copy: what was being handled when it was taken is hours old — its
        person has long gone on — and is not handled again."""
        tx.run(
            "UPDATE updates SET done_at = received_at, body = '', claim_owner = NULL, "
            "claim_until = NULL WHERE done_at IS NULL"
        )
