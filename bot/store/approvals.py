"""Supervisor approval of large top-ups (tables ``approvals`` and ``approval_cards``).

A request is WAITING until the first decision, its expiry or the end of the cashier's work;
the cards are the supervisor messages that show it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.domain.limits import Usage
from bot.domain.model import Approval, ApprovalState
from bot.domain.money import to_tiyn
from bot.store.db import Tx, parse_ts, ts
from bot.store.rows import UsageColumn, build, columns, day_usage

_COLUMNS = columns(Approval)


class Approvals:
    # ------------------------------------------------------------------ writes

    @staticmethod
    def add(tx: Tx, approval: Approval) -> None:
        cashier, client = approval.cashier_today, approval.client_today
        tx.run(
            "INSERT INTO approvals (id, draft_id, cashier_id, chat_id, message_id, login, "
            "client_name, amount_tiyn, state, created_at, expires_at, fee_tiyn, identified, "
            "cashier_day_amount_tiyn, cashier_day_count, client_day_amount_tiyn, "
            "client_day_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                approval.id,
                approval.draft_id,
                approval.cashier_id,
                approval.chat_id,
                approval.message_id,
                approval.login,
                approval.client_name,
                to_tiyn(approval.amount),
                approval.state.value,
                ts(approval.created_at),
                ts(approval.expires_at),
                to_tiyn(approval.fee),
                None if approval.identified is None else int(approval.identified),
                None if cashier is None else to_tiyn(cashier.amount),
                None if cashier is None else cashier.count,
                None if client is None else to_tiyn(client.amount),
                None if client is None else client.count,
            ),
        )

    @staticmethod
    def close(
        tx: Tx,
        now: datetime,
        approval_id: str,
        state: ApprovalState,
        actor_id: int | None,
        reason: str | None = None,
    ) -> bool:
        """WAITING → ``state``, once; False if it was not waiting. ``reason``: the bot's own
        (a daily limit refused it), never a supervisor's (see :meth:`set_reason`)."""
        return (
            tx.run(
                "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ?, "
                "reason = COALESCE(?, reason) WHERE id = ? AND state = 'WAITING'",
                (state.value, actor_id, ts(now), reason, approval_id),
            )
            == 1
        )

    @staticmethod
    def fill_fee(tx: Tx, fee: Decimal) -> int:
        """Requests made before the fee was kept (migration 11) get one: a waiting one the
        fee its approval pays (CASHIN_FEE now, as it did then), an ended one none (its cards
        never named one). How many."""
        return tx.run(
            "UPDATE approvals SET fee_tiyn = CASE WHEN state = 'WAITING' THEN ? ELSE 0 END "
            "WHERE fee_tiyn IS NULL",
            (to_tiyn(fee),),
        )

    @staticmethod
    def set_guid(tx: Tx, approval_id: str, guid: str) -> None:
        tx.run("UPDATE approvals SET guid = ? WHERE id = ?", (guid, approval_id))

    @staticmethod
    def set_reason(tx: Tx, approval_id: str, actor_id: int, reason: str) -> int | None:
        """The rejecting supervisor's reason, once; the cashier's chat, or None."""
        row = tx.one(
            "SELECT chat_id FROM approvals WHERE id = ? AND state = 'REJECTED' "
            "AND decided_by = ? AND reason IS NULL",
            (approval_id, actor_id),
        )
        if row is None:
            return None
        tx.run("UPDATE approvals SET reason = ? WHERE id = ?", (reason[:500], approval_id))
        return int(row["chat_id"])

    @staticmethod
    def remind(tx: Tx, now: datetime, before: datetime) -> list[Approval]:
        """Waiting requests that expire by ``before`` and were not reminded of: marked
        reminded now (once, whatever happens later), and returned."""
        rows = tx.all(
            f"SELECT {_COLUMNS} FROM approvals WHERE state = 'WAITING' "
            "AND reminded_at IS NULL AND expires_at <= ? ORDER BY expires_at",
            (ts(before),),
        )
        due = [build(Approval, r) for r in rows]
        for approval in due:
            tx.run(
                "UPDATE approvals SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL",
                (ts(now), approval.id),
            )
        return due

    @staticmethod
    def record_card(tx: Tx, approval_id: str, chat_id: int, message_id: int) -> None:
        tx.run(
            "INSERT INTO approval_cards (approval_id, chat_id, message_id) VALUES (?, ?, ?) "
            "ON CONFLICT (approval_id, chat_id) DO UPDATE SET message_id = excluded.message_id",
            (approval_id, chat_id, message_id),
        )

    # ------------------------------------------------------------------ reads

    @staticmethod
    def get(tx: Tx, approval_id: str) -> Approval | None:
        row = tx.one(f"SELECT {_COLUMNS} FROM approvals WHERE id = ?", (approval_id,))
        return build(Approval, row) if row else None

    @staticmethod
    def on_message(tx: Tx, chat_id: int, message_id: int) -> bool:
        """Whether a request's cashier card lives in this message (the outbox's to edit)."""
        row = tx.one(
            "SELECT 1 FROM approvals WHERE chat_id = ? AND message_id = ?", (chat_id, message_id)
        )
        return row is not None

    @staticmethod
    def for_draft(tx: Tx, draft_id: str) -> Approval | None:
        row = tx.one(f"SELECT {_COLUMNS} FROM approvals WHERE draft_id = ?", (draft_id,))
        return build(Approval, row) if row else None

    @staticmethod
    def waiting(tx: Tx, cashier_id: int | None = None) -> list[Approval]:
        """Requests still waiting, oldest first: everyone's, or one cashier's."""
        where, args = ("AND cashier_id = ?", (cashier_id,)) if cashier_id is not None else ("", ())
        rows = tx.all(
            f"SELECT {_COLUMNS} FROM approvals WHERE state = 'WAITING' {where} ORDER BY created_at",
            args,
        )
        return [build(Approval, r) for r in rows]

    @staticmethod
    def expired(tx: Tx, now: datetime) -> list[Approval]:
        rows = tx.all(
            f"SELECT {_COLUMNS} FROM approvals WHERE state = 'WAITING' AND expires_at <= ?",
            (ts(now),),
        )
        return [build(Approval, r) for r in rows]

    @staticmethod
    def next_expiry(tx: Tx) -> datetime | None:
        value = tx.value("SELECT MIN(expires_at) FROM approvals WHERE state = 'WAITING'")
        return parse_ts(value) if value else None

    @staticmethod
    def next_unreminded_expiry(tx: Tx) -> datetime | None:
        """The earliest expiry of a waiting request whose deciders were not reminded yet."""
        value = tx.value(
            "SELECT MIN(expires_at) FROM approvals WHERE state = 'WAITING' AND reminded_at IS NULL"
        )
        return parse_ts(value) if value else None

    @staticmethod
    def card_message(tx: Tx, approval_id: str, chat_id: int) -> int | None:
        value = tx.value(
            "SELECT message_id FROM approval_cards WHERE approval_id = ? AND chat_id = ?",
            (approval_id, chat_id),
        )
        return int(value) if value is not None else None

    @staticmethod
    def card_chats(tx: Tx, approval_id: str) -> list[int]:
        rows = tx.all("SELECT chat_id FROM approval_cards WHERE approval_id = ?", (approval_id,))
        return [int(r["chat_id"]) for r in rows]

    @staticmethod
    def usage(
        tx: Tx,
        column: UsageColumn,
        value: object,
        day: tuple[datetime, datetime],
        except_id: str | None = None,
    ) -> Usage:
        """Sum and count of the day's requests by ``column = value`` still waiting (but
        ``except_id``: the request being decided)."""
        if except_id is None:
            return day_usage(tx, "approvals", column, value, day, "state = 'WAITING'", ())
        return day_usage(
            tx, "approvals", column, value, day, "state = 'WAITING' AND id != ?", (except_id,)
        )
