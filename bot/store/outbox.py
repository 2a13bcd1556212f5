"""The transactional outbox (table ``outbox``): every message someone must get, queued in the
same transaction as the change it tells of, until it is delivered (or cannot be)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.domain.model import OutboxItem, OutboxKind
from bot.redaction import redact_error
from bot.store.db import Row, Tx, marks, parse_ts, ts


def _item(row: Row) -> OutboxItem:
    return OutboxItem(
        row["id"],
        OutboxKind(row["kind"]),
        row["chat_id"],
        row["guid"],
        row["attempts"],
        row["ref"],
        row["progress"],
    )


class Outbox:
    @staticmethod
    def prune(tx: Tx, before: datetime) -> int:
        """Messages delivered (or given up) before ``before``: their work is done."""
        return tx.run("DELETE FROM outbox WHERE done_at IS NOT NULL AND done_at < ?", (ts(before),))

    @staticmethod
    def enqueue(
        tx: Tx,
        now: datetime,
        kind: OutboxKind,
        chat_id: int,
        guid: str | None = None,
        *,
        ref: str | None = None,
    ) -> None:
        tx.run(
            "INSERT INTO outbox (kind, chat_id, guid, ref, next_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (kind.value, chat_id, guid, ref, ts(now), ts(now)),
        )

    @staticmethod
    def due(tx: Tx, now: datetime, limit: int, *, chat_id: int | None = None) -> list[OutboxItem]:
        """Due items in order, all chats or one."""
        where = "done_at IS NULL AND next_at <= ?" + (" AND chat_id = ?" if chat_id else "")
        params: tuple[object, ...] = (ts(now), chat_id) if chat_id else (ts(now),)
        rows = tx.all(
            "SELECT id, kind, chat_id, guid, attempts, ref, progress FROM outbox "
            f"WHERE {where} ORDER BY id LIMIT ?",
            (*params, limit),
        )
        return [_item(r) for r in rows]

    @staticmethod
    def due_chats(tx: Tx, now: datetime) -> dict[int, set[OutboxKind]]:
        """The chats with something due, and the kinds they have waiting."""
        rows = tx.all(
            "SELECT chat_id, kind FROM outbox WHERE done_at IS NULL AND next_at <= ? "
            "GROUP BY chat_id, kind",
            (ts(now),),
        )
        chats: dict[int, set[OutboxKind]] = {}
        for row in rows:
            chats.setdefault(int(row["chat_id"]), set()).add(OutboxKind(row["kind"]))
        return chats

    @staticmethod
    def next_at(tx: Tx, busy_chats: Iterable[int] = ()) -> datetime | None:
        """When the next item is due, leaving out chats already being delivered to."""
        busy = [int(chat) for chat in busy_chats]
        where = f"done_at IS NULL AND chat_id NOT IN ({marks(busy)})" if busy else "done_at IS NULL"
        value = tx.value(f"SELECT MIN(next_at) FROM outbox WHERE {where}", busy)
        return parse_ts(value) if value else None

    @staticmethod
    def undelivered_status(tx: Tx, guids: Iterable[str]) -> set[str]:
        """Which of these payments still have their cashier's status message to deliver."""
        wanted = list(dict.fromkeys(guids))
        if not wanted:
            return set()
        rows = tx.all(
            "SELECT DISTINCT guid FROM outbox WHERE kind = 'status' AND done_at IS NULL "
            f"AND guid IN ({marks(wanted)})",
            wanted,
        )
        return {str(r["guid"]) for r in rows}

    @staticmethod
    def progress(tx: Tx, item_id: int, parts: int) -> None:
        """``parts`` of a multi-part item are delivered: a retry resumes after them."""
        tx.run("UPDATE outbox SET progress = ? WHERE id = ?", (parts, item_id))

    @staticmethod
    def later(tx: Tx, now: datetime, delay: float, item_ids: Iterable[int]) -> None:
        """Not yet (no attempt made): due again in ``delay`` seconds."""
        next_at = ts(now + timedelta(seconds=delay))
        tx.many("UPDATE outbox SET next_at = ? WHERE id = ?", [(next_at, i) for i in item_ids])

    @staticmethod
    def done(tx: Tx, now: datetime, item_ids: Iterable[int], failed: str | None = None) -> None:
        error = redact_error(failed)
        tx.many(
            "UPDATE outbox SET done_at = ?, attempts = attempts + 1, failed = ?, "
            "last_error = COALESCE(?, last_error) WHERE id = ?",
            [(ts(now), int(failed is not None), error, item_id) for item_id in item_ids],
        )

    @staticmethod
    def retry(tx: Tx, now: datetime, error: str, delay: float, item_ids: Iterable[int]) -> None:
        next_at = ts(now + timedelta(seconds=delay))
        text = redact_error(error)
        tx.many(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE id = ?",
            [(text, next_at, item_id) for item_id in item_ids],
        )
