"""The transactional outbox (table ``outbox``): every message someone must get, queued in the
same transaction as the change it tells of, until it is delivered (or cannot be)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.domain.model import OutboxItem, OutboxKind
from bot.infra.redaction import redact_error
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
    def last_refs(tx: Tx, kind: OutboxKind, chat_id: int | None = None) -> dict[int, str]:
        """Each chat's (or one chat's) ``ref`` of its last item of ``kind`` waiting or
        delivered (not one that failed for good), as far back as the outbox keeps them."""
        one = " AND chat_id = ?" if chat_id is not None else ""
        params = (kind.value, chat_id) if chat_id is not None else (kind.value,)
        rows = tx.all(
            "SELECT o.chat_id, o.ref FROM outbox o JOIN (SELECT MAX(id) AS id FROM outbox "
            f"WHERE kind = ? AND failed = 0{one} GROUP BY chat_id) last ON last.id = o.id",
            params,
        )
        return {int(r["chat_id"]): str(r["ref"] or "") for r in rows}

    @staticmethod
    def claim_chat(
        tx: Tx, now: datetime, chat_id: int, owner: str, until: datetime, limit: int
    ) -> list[OutboxItem]:
        """A chat's due items, claimed for ``owner`` until ``until`` — none while another
        process holds a live claim on any of the chat's items (one lane per chat, whatever
        the number of processes: a chat's messages stay in order and go out once)."""
        if Outbox._held_by_another(tx, now, chat_id, owner):
            return []
        items = Outbox.due(tx, now, limit, chat_id=chat_id)
        tx.many(
            "UPDATE outbox SET claim_owner = ?, claim_until = ? WHERE id = ?",
            [(owner, ts(until), item.id) for item in items],
        )
        return items

    @staticmethod
    def release_all(tx: Tx, owner: str, *, earlier_than: str | None = None) -> int:
        """A process stopping lets go of the chats it was delivering to; ``earlier_than``
        (``owner`` is then a prefix): a restarted one takes back its earlier lives' chats."""
        if earlier_than is None:
            return tx.run(
                "UPDATE outbox SET claim_owner = NULL, claim_until = NULL WHERE claim_owner = ?",
                (owner,),
            )
        return tx.run(
            "UPDATE outbox SET claim_owner = NULL, claim_until = NULL "
            "WHERE substr(claim_owner, 1, CAST(? AS INTEGER)) = ? AND claim_owner != ?",
            (len(owner), owner, earlier_than),
        )

    @staticmethod
    def release_every(tx: Tx) -> None:
        """No claims at all (a restored copy)."""
        tx.run("UPDATE outbox SET claim_owner = NULL, claim_until = NULL")

    @staticmethod
    def _held_by_another(tx: Tx, now: datetime, chat_id: int, owner: str) -> bool:
        return (
            tx.one(
                "SELECT 1 FROM outbox WHERE chat_id = ? AND claim_owner IS NOT NULL "
                "AND claim_owner != ? AND claim_until > ? AND done_at IS NULL LIMIT 1",
                (chat_id, owner, ts(now)),
            )
            is not None
        )

    @staticmethod
    def due_chats(tx: Tx, now: datetime, owner: str | None = None) -> dict[int, set[OutboxKind]]:
        """The chats with something due, and the kinds they have waiting; with ``owner``,
        leaving out chats another process is delivering to."""
        held = (
            "AND chat_id NOT IN (SELECT chat_id FROM outbox WHERE claim_owner IS NOT NULL "
            "AND claim_owner != ? AND claim_until > ? AND done_at IS NULL) "
            if owner is not None
            else ""
        )
        params: tuple[object, ...] = (ts(now),) + ((owner, ts(now)) if owner is not None else ())
        rows = tx.all(
            "SELECT chat_id, kind FROM outbox WHERE done_at IS NULL AND next_at <= ? "
            f"{held}GROUP BY chat_id, kind",
            params,
        )
        chats: dict[int, set[OutboxKind]] = {}
        for row in rows:
            chats.setdefault(int(row["chat_id"]), set()).add(OutboxKind(row["kind"]))
        return chats

    @staticmethod
    def next_at(
        tx: Tx,
        busy_chats: Iterable[int] = (),
        owner: str | None = None,
        now: datetime | None = None,
    ) -> datetime | None:
        """When the next item is due, leaving out chats already being delivered to; a chat
        another process holds (``owner``, ``now``: this one's view) is looked at again when
        its last live claim ends, whatever is due in it meanwhile."""
        busy = [int(chat) for chat in busy_chats]
        where = (
            f"o.done_at IS NULL AND o.chat_id NOT IN ({marks(busy)})"
            if busy
            else ("o.done_at IS NULL")
        )
        held = "SELECT CAST(NULL AS BIGINT) AS chat_id, CAST(NULL AS TEXT) AS until WHERE 1 = 0"
        params: list[object] = []
        if owner is not None and now is not None:
            held = (
                "SELECT chat_id, MAX(claim_until) AS until FROM outbox WHERE done_at IS NULL "
                "AND claim_owner IS NOT NULL AND claim_owner != ? AND claim_until > ? "
                "GROUP BY chat_id"
            )
            params = [owner, ts(now)]
        value = tx.value(
            "SELECT MIN(CASE WHEN h.until IS NOT NULL AND h.until > o.next_at THEN h.until "
            f"ELSE o.next_at END) FROM outbox o LEFT JOIN ({held}) h ON h.chat_id = o.chat_id "
            f"WHERE {where}",
            [*params, *busy],
        )
        return parse_ts(value) if value else None

    @staticmethod
    def renew(tx: Tx, chat_id: int, owner: str, until: datetime) -> int:
        """A lane still at work keeps its chat: its claims run on to ``until``."""
        return tx.run(
            "UPDATE outbox SET claim_until = ? WHERE chat_id = ? AND claim_owner = ? "
            "AND done_at IS NULL",
            (ts(until), chat_id, owner),
        )

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
        tx.many(
            "UPDATE outbox SET next_at = ?, claim_owner = NULL, claim_until = NULL WHERE id = ?",
            [(next_at, i) for i in item_ids],
        )

    @staticmethod
    def done(tx: Tx, now: datetime, item_ids: Iterable[int], failed: str | None = None) -> None:
        error = redact_error(failed)
        tx.many(
            "UPDATE outbox SET done_at = ?, attempts = attempts + 1, failed = ?, "
            "last_error = COALESCE(?, last_error), claim_owner = NULL, claim_until = NULL "
            "WHERE id = ?",
            [(ts(now), int(failed is not None), error, item_id) for item_id in item_ids],
        )

    @staticmethod
    def retry(tx: Tx, now: datetime, error: str, delay: float, item_ids: Iterable[int]) -> None:
        next_at = ts(now + timedelta(seconds=delay))
        text = redact_error(error)
        tx.many(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ?, "
            "claim_owner = NULL, claim_until = NULL WHERE id = ?",
            [(text, next_at, item_id) for item_id in item_ids],
        )
