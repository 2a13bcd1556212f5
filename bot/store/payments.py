"""The payment journal (table ``payments``): one row per GUID, committed before any send.

COMPLETED and DECLINED are final and never change; receipt numbers are given in order of
completion.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.domain.limits import Usage
from bot.domain.model import USING_LIMITS, Draft, Payment, Status
from bot.domain.money import to_tiyn
from bot.infra.redaction import redact_error
from bot.store.db import Tx, marks, parse_ts, ts
from bot.store.payment_lists import COLUMNS, OPEN, PaymentLists
from bot.store.rows import UsageColumn, build, day_usage

_USING = tuple(s.value for s in USING_LIMITS)


class Payments(PaymentLists):
    """The journal: its writes, the send leases, what the sends and the cash book read; and
    the listings people ask for (:class:`~bot.store.payment_lists.PaymentLists`)."""

    # ------------------------------------------------------------------ writes

    @staticmethod
    def create(
        tx: Tx,
        now: datetime,
        draft: Draft,
        guid: str,
        *,
        requester: str,
        message_id: int | None,
        first_attempt_at: datetime,
        fee: Decimal = Decimal(0),
    ) -> Payment:
        """A NEW payment from a confirmed draft (its amount set), with the fee of the day."""
        assert draft.amount is not None
        stamp = ts(now)
        tx.run(
            "INSERT INTO payments (guid, draft_id, requester, cashier_id, chat_id, message_id, "
            "login, client_name, amount_tiyn, lang, status, attempts, created_at, updated_at, "
            "next_attempt_at, fee_tiyn) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'NEW', 0, ?, ?, ?, ?)",
            (
                guid,
                draft.id,
                requester,
                draft.cashier_id,
                draft.chat_id,
                message_id,
                draft.login,
                draft.client_name,
                to_tiyn(draft.amount),
                draft.lang,
                stamp,
                stamp,
                ts(first_attempt_at),
                to_tiyn(fee),
            ),
        )
        payment = Payments.get(tx, guid)
        assert payment is not None
        return payment

    @staticmethod
    def set_message(tx: Tx, guid: str, chat_id: int, message_id: int) -> None:
        tx.run(
            "UPDATE payments SET chat_id = ?, message_id = ? WHERE guid = ?",
            (chat_id, message_id, guid),
        )

    @staticmethod
    def record(
        tx: Tx,
        now: datetime,
        guid: str,
        status: Status,
        *,
        cause: str | None,
        user_message: str | None,
        developer_message: str | None,
        reason: str | None,
        next_attempt_at: datetime,
    ) -> None:
        """One send's answer on a payment that is not final. Completion numbers the receipt."""
        final = status.is_final
        tx.run(
            "UPDATE payments SET status = ?, attempts = attempts + 1, last_error = ?, "
            "user_message = COALESCE(?, user_message), "
            "developer_message = COALESCE(?, developer_message), "
            "reason = COALESCE(?, reason), updated_at = ?, last_attempt_at = ?, "
            "next_attempt_at = ?, final_at = ? WHERE guid = ?",
            (
                status.value,
                redact_error(cause),
                user_message,
                developer_message,
                reason,
                ts(now),
                ts(now),
                ts(next_attempt_at),
                ts(now) if final else None,
                guid,
            ),
        )
        if status is Status.COMPLETED:
            tx.run(
                "UPDATE payments SET receipt_no = "
                "(SELECT COALESCE(MAX(receipt_no), 0) + 1 FROM payments) WHERE guid = ?",
                (guid,),
            )

    # ------------------------------------------------------------------ leases

    @staticmethod
    def claim(tx: Tx, now: datetime, guid: str, owner: str, until: datetime) -> bool:
        """Take the lease on sending ``guid`` until ``until``; False while another process
        holds an unexpired one. The holder renews its own."""
        return (
            tx.run(
                "UPDATE payments SET lease_owner = ?, lease_until = ? WHERE guid = ? "
                "AND (lease_owner IS NULL OR lease_until <= ? OR lease_owner = ?)",
                (owner, ts(until), guid, ts(now), owner),
            )
            == 1
        )

    @staticmethod
    def claim_due(tx: Tx, now: datetime, owner: str, until: datetime, limit: int) -> list[Payment]:
        """The open payments due for a resend that no other process is sending, leased to
        ``owner``: oldest due first."""
        rows = tx.all(
            f"SELECT guid FROM payments WHERE status IN ({marks(OPEN)}) "
            "AND next_attempt_at <= ? "
            "AND (lease_owner IS NULL OR lease_until <= ? OR lease_owner = ?) "
            "ORDER BY next_attempt_at LIMIT ?",
            (*OPEN, ts(now), ts(now), owner, limit),
        )
        claimed = [r["guid"] for r in rows if Payments.claim(tx, now, r["guid"], owner, until)]
        found = Payments.many(tx, claimed)
        return [found[guid] for guid in claimed if guid in found]

    @staticmethod
    def release(tx: Tx, guid: str, owner: str) -> None:
        """The send is recorded: the lease goes (only the holder's own)."""
        tx.run(
            "UPDATE payments SET lease_owner = NULL, lease_until = NULL "
            "WHERE guid = ? AND lease_owner = ?",
            (guid, owner),
        )

    @staticmethod
    def release_all(tx: Tx, owner: str, *, earlier_than: str | None = None) -> int:
        """A process stopping hands its unfinished sends over at once. ``earlier_than``
        (``owner`` is then a prefix): a restarted process takes back what its earlier lives
        (owners starting with ``owner``, but ``earlier_than``) held."""
        if earlier_than is None:
            return tx.run(
                "UPDATE payments SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?",
                (owner,),
            )
        return tx.run(
            "UPDATE payments SET lease_owner = NULL, lease_until = NULL "
            "WHERE substr(lease_owner, 1, CAST(? AS INTEGER)) = ? AND lease_owner != ?",
            (len(owner), owner, earlier_than),
        )

    @staticmethod
    def release_every(tx: Tx) -> None:
        """No send leases at all (a restored copy)."""
        tx.run("UPDATE payments SET lease_owner = NULL, lease_until = NULL")

    @staticmethod
    def restart_horizon(tx: Tx, now: datetime, guid: str) -> None:
        """A recheck left it pending: the resolver's alert and give-up horizons start anew."""
        tx.run(
            "UPDATE payments SET rechecked_at = ?, alerted_at = NULL WHERE guid = ?",
            (ts(now), guid),
        )

    @staticmethod
    def count_attempt(tx: Tx, now: datetime, guid: str) -> None:
        """A send of a payment already final: counted, nothing else changes."""
        tx.run(
            "UPDATE payments SET attempts = attempts + 1, last_attempt_at = ? WHERE guid = ?",
            (ts(now), guid),
        )

    @staticmethod
    def mark_alerted(tx: Tx, now: datetime, guid: str) -> bool:
        """The one 'stuck pending' mark; False if already marked or no longer open."""
        return (
            tx.run(
                "UPDATE payments SET alerted_at = ? WHERE guid = ? AND alerted_at IS NULL "
                f"AND status IN ({marks(OPEN)})",
                (ts(now), guid, *OPEN),
            )
            == 1
        )

    @staticmethod
    def give_up(tx: Tx, now: datetime, guid: str, owner: str | None = None) -> bool:
        """Open → UNKNOWN; False if it was not open, or (``owner`` given) another process
        holds its send lease: its answer is on the way, and may be final."""
        leased = (
            " AND (lease_owner IS NULL OR lease_until <= ? OR lease_owner = ?)"
            if owner is not None
            else ""
        )
        params = (ts(now), owner) if owner is not None else ()
        return (
            tx.run(
                "UPDATE payments SET status = 'UNKNOWN', updated_at = ?, final_at = ? "
                f"WHERE guid = ? AND status IN ({marks(OPEN)}){leased}",
                (ts(now), ts(now), guid, *OPEN, *params),
            )
            == 1
        )

    # ------------------------------------------------------------------ reads

    @staticmethod
    def get(tx: Tx, guid: str) -> Payment | None:
        row = tx.one(f"SELECT {COLUMNS} FROM payments WHERE guid = ?", (guid,))
        return build(Payment, row) if row else None

    @staticmethod
    def many(tx: Tx, guids: list[str]) -> dict[str, Payment]:
        if not guids:
            return {}
        rows = tx.all(f"SELECT {COLUMNS} FROM payments WHERE guid IN ({marks(guids)})", guids)
        return {r["guid"]: build(Payment, r) for r in rows}

    @staticmethod
    def on_message(tx: Tx, chat_id: int, message_id: int) -> bool:
        """Whether a payment's status lives in this message (the outbox's to edit)."""
        row = tx.one(
            "SELECT 1 FROM payments WHERE chat_id = ? AND message_id = ?", (chat_id, message_id)
        )
        return row is not None

    @staticmethod
    def for_draft(tx: Tx, draft_id: str) -> Payment | None:
        row = tx.one(f"SELECT {COLUMNS} FROM payments WHERE draft_id = ?", (draft_id,))
        return build(Payment, row) if row else None

    @staticmethod
    def due(tx: Tx, now: datetime, limit: int) -> list[Payment]:
        rows = tx.all(
            f"SELECT {COLUMNS} FROM payments WHERE status IN ({marks(OPEN)}) "
            "AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
            (*OPEN, ts(now), limit),
        )
        return [build(Payment, r) for r in rows]

    @staticmethod
    def next_due(tx: Tx, owner: str | None = None) -> datetime | None:
        """When the next resend falls due: its planned time, or — sent by another process
        than ``owner`` now — the end of that one's lease, whichever is later."""
        value = tx.value(
            "SELECT MIN(CASE WHEN lease_owner IS NOT NULL AND lease_owner != ? "
            "AND lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) "
            f"FROM payments WHERE status IN ({marks(OPEN)})",
            (owner or "", *OPEN),
        )
        return parse_ts(value) if value else None

    @staticmethod
    def open(tx: Tx) -> list[Payment]:
        rows = tx.all(
            f"SELECT {COLUMNS} FROM payments WHERE status IN ({marks(OPEN)}) ORDER BY created_at",
            OPEN,
        )
        return [build(Payment, r) for r in rows]

    @staticmethod
    def unresolved(tx: Tx) -> list[Payment]:
        """Every payment without Allpay's final word: open ones and those given up on."""
        wanted = (*OPEN, Status.UNKNOWN.value)
        rows = tx.all(
            f"SELECT {COLUMNS} FROM payments WHERE status IN ({marks(wanted)}) ORDER BY created_at",
            wanted,
        )
        return [build(Payment, r) for r in rows]

    @staticmethod
    def last_receipt(tx: Tx) -> int:
        """The highest receipt number given so far (0: none)."""
        return int(tx.value("SELECT COALESCE(MAX(receipt_no), 0) FROM payments") or 0)

    @staticmethod
    def completed_between(
        tx: Tx, cashier_id: int, after_receipt: int, upto_receipt: int | None = None
    ) -> list[Payment]:
        """The cashier's COMPLETED top-ups numbered after ``after_receipt`` (up to
        ``upto_receipt``), in receipt order: the cash they collected in that span."""
        where = "cashier_id = ? AND status = 'COMPLETED' AND receipt_no > ?"
        args: tuple[Any, ...] = (cashier_id, after_receipt)
        if upto_receipt is not None:
            where += " AND receipt_no <= ?"
            args += (upto_receipt,)
        rows = tx.all(f"SELECT {COLUMNS} FROM payments WHERE {where} ORDER BY receipt_no", args)
        return [build(Payment, r) for r in rows]

    @staticmethod
    def usage(tx: Tx, column: UsageColumn, value: object, day: tuple[datetime, datetime]) -> Usage:
        """Sum and count of the day's payments by ``column = value`` that use up limits."""
        return day_usage(tx, "payments", column, value, day, f"status IN ({marks(_USING)})", _USING)
