"""Cash handovers (tables ``handovers``, ``handover_write_offs``, ``handover_cards``).

A handover is DECLARED until a supervisor answers it (CONFIRMED with the amount received, or
DISPUTED), or the cashier withdraws it. Triggers keep an answered handover and every
write-off as they were written: a correction is a new entry.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.domain.cash import Handover, HandoverState
from bot.domain.money import to_tiyn
from bot.store.db import Tx, parse_ts, ts
from bot.store.rows import build

_SELECT = (
    "SELECT h.id, h.cashier_id, h.chat_id, h.message_id, h.receiver_id, h.state, "
    "h.upto_receipt, h.expected_tiyn, h.pending_tiyn, h.declared_tiyn, h.received_tiyn, "
    "h.decided_by, "
    "h.created_at, h.decided_at, w.actor_id AS written_off_by, w.at AS written_off_at, "
    "w.reason AS write_off_reason "
    "FROM handovers h LEFT JOIN handover_write_offs w ON w.handover_id = h.id"
)


def _tiyn(amount: Decimal | None) -> int | None:
    return to_tiyn(amount) if amount is not None else None


class Handovers:
    # ------------------------------------------------------------------ writes

    @staticmethod
    def add(
        tx: Tx,
        now: datetime,
        *,
        cashier_id: int,
        chat_id: int | None,
        receiver_id: int | None,
        state: HandoverState,
        upto_receipt: int,
        expected: Decimal,
        pending: Decimal,
        declared: Decimal | None,
        received: Decimal | None = None,
        decided_by: int | None = None,
    ) -> int:
        return int(
            tx.value(
                "INSERT INTO handovers (cashier_id, chat_id, receiver_id, state, upto_receipt, "
                "expected_tiyn, pending_tiyn, declared_tiyn, received_tiyn, decided_by, "
                "created_at, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    cashier_id,
                    chat_id,
                    receiver_id,
                    state.value,
                    upto_receipt,
                    to_tiyn(expected),
                    to_tiyn(pending),
                    _tiyn(declared),
                    _tiyn(received),
                    decided_by,
                    ts(now),
                    ts(now) if state is not HandoverState.DECLARED else None,
                ),
            )
        )

    @staticmethod
    def answer(
        tx: Tx,
        now: datetime,
        handover_id: int,
        state: HandoverState,
        actor_id: int | None,
        received: Decimal | None = None,
    ) -> bool:
        """DECLARED → ``state``, once; False if someone answered first."""
        return (
            tx.run(
                "UPDATE handovers SET state = ?, decided_by = ?, received_tiyn = ?, "
                "decided_at = ? WHERE id = ? AND state = 'DECLARED'",
                (state.value, actor_id, _tiyn(received), ts(now), handover_id),
            )
            == 1
        )

    @staticmethod
    def set_message(tx: Tx, handover_id: int, message_id: int) -> None:
        """The cashier's declaration message (while it waits; an answer is never edited)."""
        tx.run(
            "UPDATE handovers SET message_id = ? WHERE id = ? AND state = 'DECLARED'",
            (message_id, handover_id),
        )

    @staticmethod
    def write_off(
        tx: Tx, now: datetime, handover_id: int, amount: Decimal, actor_id: int, reason: str
    ) -> bool:
        """Settle a handover's variance, once; False if it was written off before."""
        return (
            tx.run(
                "INSERT INTO handover_write_offs (handover_id, amount_tiyn, actor_id, reason, at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (handover_id, to_tiyn(amount), actor_id, reason[:500], ts(now)),
            )
            == 1
        )

    @staticmethod
    def record_card(tx: Tx, handover_id: int, chat_id: int, message_id: int) -> None:
        tx.run(
            "INSERT INTO handover_cards (handover_id, chat_id, message_id) VALUES (?, ?, ?) "
            "ON CONFLICT (handover_id, chat_id) DO UPDATE SET message_id = excluded.message_id",
            (handover_id, chat_id, message_id),
        )

    # ------------------------------------------------------------------ reads

    @staticmethod
    def get(tx: Tx, handover_id: int) -> Handover | None:
        row = tx.one(f"{_SELECT} WHERE h.id = ?", (handover_id,))
        return build(Handover, row) if row else None

    @staticmethod
    def waiting(tx: Tx, cashier_id: int | None = None) -> list[Handover]:
        """Declared and unanswered, oldest first: everyone's, or one cashier's."""
        where, args = (
            ("AND h.cashier_id = ?", (cashier_id,)) if cashier_id is not None else ("", ())
        )
        rows = tx.all(f"{_SELECT} WHERE h.state = 'DECLARED' {where} ORDER BY h.id", args)
        return [build(Handover, r) for r in rows]

    @staticmethod
    def waiting_for(tx: Tx, receiver_id: int) -> list[Handover]:
        """Declared and unanswered, addressed to ``receiver_id`` by name."""
        rows = tx.all(
            f"{_SELECT} WHERE h.state = 'DECLARED' AND h.receiver_id = ? ORDER BY h.id",
            (receiver_id,),
        )
        return [build(Handover, r) for r in rows]

    @staticmethod
    def latest_id(tx: Tx, cashier_id: int) -> int:
        """The cashier's newest handover (0: none): what a supervisor saw, to act on."""
        value = tx.value("SELECT MAX(id) FROM handovers WHERE cashier_id = ?", (cashier_id,))
        return int(value or 0)

    @staticmethod
    def last_confirmed(tx: Tx, cashier_id: int) -> tuple[int, datetime | None]:
        """Up to which receipt the cashier's cash was handed over, and when (0, None: never)."""
        row = tx.one(
            "SELECT upto_receipt, decided_at FROM handovers WHERE cashier_id = ? "
            "AND state = 'CONFIRMED' ORDER BY upto_receipt DESC, id DESC LIMIT 1",
            (cashier_id,),
        )
        if row is None:
            return 0, None
        return int(row["upto_receipt"]), parse_ts(row["decided_at"])

    @staticmethod
    def last_confirmed_all(tx: Tx) -> dict[int, datetime]:
        rows = tx.all(
            "SELECT cashier_id, MAX(decided_at) AS at FROM handovers "
            "WHERE state = 'CONFIRMED' GROUP BY cashier_id"
        )
        return {int(r["cashier_id"]): parse_ts(r["at"]) for r in rows}

    @staticmethod
    def open_variances(tx: Tx, cashier_id: int | None = None) -> list[Handover]:
        """Confirmed with a variance nobody has written off, oldest first."""
        where, args = (
            ("AND h.cashier_id = ?", (cashier_id,)) if cashier_id is not None else ("", ())
        )
        rows = tx.all(
            f"{_SELECT} WHERE h.state = 'CONFIRMED' AND h.kind = 'HANDOVER' "
            "AND h.received_tiyn != h.expected_tiyn "
            f"AND w.handover_id IS NULL {where} ORDER BY h.id",
            args,
        )
        return [build(Handover, r) for r in rows]

    @staticmethod
    def answered_between(tx: Tx, start: datetime, end: datetime) -> list[Handover]:
        """Handovers answered, recorded or written off in [start, end), in number order."""
        rows = tx.all(
            f"{_SELECT} WHERE h.kind = 'HANDOVER' AND ((h.decided_at >= ? AND h.decided_at < ?) "
            "OR (w.at >= ? AND w.at < ?)) ORDER BY h.id",
            (ts(start), ts(end), ts(start), ts(end)),
        )
        return [build(Handover, r) for r in rows]

    @staticmethod
    def between(tx: Tx, start: datetime, end: datetime) -> list[Handover]:
        """Handovers declared, answered or written off in [start, end), in number order
        (exports: a later write-off shows in its own period's export too)."""
        span = (ts(start), ts(end))
        rows = tx.all(
            f"{_SELECT} WHERE h.kind = 'HANDOVER' AND ((h.created_at >= ? AND h.created_at < ?) "
            "OR (h.decided_at >= ? AND h.decided_at < ?) OR (w.at >= ? AND w.at < ?)) "
            "ORDER BY h.id",
            span * 3,
        )
        return [build(Handover, r) for r in rows]

    @staticmethod
    def card_message(tx: Tx, handover_id: int, chat_id: int) -> int | None:
        value = tx.value(
            "SELECT message_id FROM handover_cards WHERE handover_id = ? AND chat_id = ?",
            (handover_id, chat_id),
        )
        return int(value) if value is not None else None

    @staticmethod
    def card_chats(tx: Tx, handover_id: int) -> list[int]:
        rows = tx.all("SELECT chat_id FROM handover_cards WHERE handover_id = ?", (handover_id,))
        return [int(r["chat_id"]) for r in rows]
