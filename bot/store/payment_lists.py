"""The payment journal's listings (table ``payments``, read only): pages of history, look-ups
by GUID or login, exports, totals, the cash collected, health figures — what people ask to
see. :class:`~bot.store.payments.Payments` (the journal's writes, sends and leases) offers
them too, so a use case reads the journal through one name.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.domain.model import OPEN_STATUSES, Payment, Status, Totals
from bot.domain.money import from_tiyn
from bot.store.db import Tx, marks, parse_ts, ts
from bot.store.rows import build, columns

#: What :func:`~bot.store.rows.build` reads for a :class:`Payment`.
COLUMNS = columns(Payment)
#: The statuses still waiting for Allpay's final word.
OPEN = tuple(s.value for s in OPEN_STATUSES)


class PaymentLists:
    @staticmethod
    def page(
        tx: Tx, cashier_id: int | None, offset: int, limit: int, until: datetime | None
    ) -> tuple[list[Payment], int]:
        """Newest first. ``until`` pins the listing: payments created later do not shift pages."""
        clauses: list[str] = []
        args: tuple[Any, ...] = ()
        if cashier_id is not None:
            clauses.append("cashier_id = ?")
            args += (cashier_id,)
        if until is not None:
            clauses.append("created_at <= ?")
            args += (ts(until),)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        total = int(tx.value(f"SELECT COUNT(*) FROM payments {where}", args) or 0)
        rows = tx.all(
            f"SELECT {COLUMNS} FROM payments {where} "
            "ORDER BY created_at DESC, guid LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [build(Payment, r) for r in rows], total

    @staticmethod
    def recent_clients(tx: Tx, cashier_id: int, limit: int) -> list[tuple[str, str]]:
        """The cashier's latest distinct clients (login, name as Allpay last gave it), newest
        first, from their last 50 top-ups (an index range read, whatever the journal's size)."""
        rows = tx.all(
            "SELECT login, client_name FROM payments WHERE cashier_id = ? "
            "ORDER BY created_at DESC LIMIT 50",
            (cashier_id,),
        )
        seen: dict[str, str] = {}
        for row in rows:
            if row["login"] not in seen:
                seen[row["login"]] = row["client_name"]
                if len(seen) == limit:
                    break
        return list(seen.items())

    @staticmethod
    def _matching(
        guid_prefix: str | None, login: str | None, cashier_id: int | None
    ) -> tuple[str, list[Any]] | None:
        """The WHERE of a look-up: a GUID starting with ``guid_prefix`` (lower-case hex, no
        brace) or client ``login``; only ``cashier_id``'s when given. None: nothing to match."""
        matches: list[str] = []
        args: list[Any] = []
        if guid_prefix:
            if any(c not in "0123456789abcdef-" for c in guid_prefix):
                raise ValueError("a GUID prefix is hex digits and dashes")
            matches.append("guid LIKE ?")
            args.append("{" + guid_prefix + "%")
        if login:
            matches.append("login = ?")
            args.append(login)
        if not matches:
            return None
        where = f"({' OR '.join(matches)})"
        if cashier_id is not None:
            where += " AND cashier_id = ?"
            args.append(cashier_id)
        return where, args

    @staticmethod
    def find(
        tx: Tx,
        *,
        guid_prefix: str | None,
        login: str | None,
        cashier_id: int | None,
        limit: int,
    ) -> list[Payment]:
        """See :meth:`_matching`. Newest first."""
        matching = PaymentLists._matching(guid_prefix, login, cashier_id)
        if matching is None:
            return []
        where, args = matching
        rows = tx.all(
            f"SELECT {COLUMNS} FROM payments WHERE {where} ORDER BY created_at DESC LIMIT ?",
            (*args, limit),
        )
        return [build(Payment, r) for r in rows]

    @staticmethod
    def find_page(
        tx: Tx,
        *,
        guid_prefix: str | None,
        login: str | None,
        cashier_id: int | None,
        offset: int,
        limit: int,
        until: datetime,
    ) -> tuple[list[Payment], int]:
        """:meth:`find`'s matches a page at a time, newest first, with their count; ``until``
        pins the listing as :meth:`page` does."""
        matching = PaymentLists._matching(guid_prefix, login, cashier_id)
        if matching is None:
            return [], 0
        where, args = matching
        where += " AND created_at <= ?"
        args.append(ts(until))
        total = int(tx.value(f"SELECT COUNT(*) FROM payments WHERE {where}", tuple(args)) or 0)
        rows = tx.all(
            f"SELECT {COLUMNS} FROM payments WHERE {where} "
            "ORDER BY created_at DESC, guid LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [build(Payment, r) for r in rows], total

    @staticmethod
    def sent_since(tx: Tx, cashier_id: int, since: datetime) -> list[Payment]:
        """The cashier's payments journaled since ``since`` that reached (or may have reached)
        Allpay: everything but DECLINED, newest first."""
        rows = tx.all(
            f"SELECT {COLUMNS} FROM payments WHERE cashier_id = ? AND created_at >= ? "
            "AND status != 'DECLINED' ORDER BY created_at DESC",
            (cashier_id, ts(since)),
        )
        return [build(Payment, r) for r in rows]

    @staticmethod
    def between(tx: Tx, start: datetime, end: datetime) -> list[Payment]:
        """Payments created in [start, end), oldest first (for exports)."""
        rows = tx.all(
            f"SELECT {COLUMNS} FROM payments WHERE created_at >= ? AND created_at < ? "
            "ORDER BY created_at, guid",
            (ts(start), ts(end)),
        )
        return [build(Payment, r) for r in rows]

    @staticmethod
    def totals(
        tx: Tx, start: datetime, end: datetime, cashier_id: int | None = None
    ) -> list[Totals]:
        """Count and sum per (cashier, status) of payments created in [start, end)."""
        where = "created_at >= ? AND created_at < ?"
        args: tuple[Any, ...] = (ts(start), ts(end))
        if cashier_id is not None:
            where += " AND cashier_id = ?"
            args += (cashier_id,)
        rows = tx.all(
            "SELECT cashier_id, status, COUNT(*) AS n, SUM(amount_tiyn) AS tiyn FROM payments "
            f"WHERE {where} GROUP BY cashier_id, status ORDER BY cashier_id, status",
            args,
        )
        return [
            Totals(r["cashier_id"], Status(r["status"]), r["n"], from_tiyn(r["tiyn"])) for r in rows
        ]

    @staticmethod
    def collected(tx: Tx) -> dict[int, tuple[int, Decimal]]:
        """Per cashier, the count and cash accepted (amount + fee) of COMPLETED top-ups
        numbered after their last confirmed handover."""
        rows = tx.all(
            "SELECT p.cashier_id, COUNT(*) AS n, SUM(p.amount_tiyn + p.fee_tiyn) AS tiyn "
            "FROM payments p WHERE p.status = 'COMPLETED' AND p.receipt_no > COALESCE(("
            "SELECT MAX(h.upto_receipt) FROM handovers h WHERE h.cashier_id = p.cashier_id "
            "AND h.state = 'CONFIRMED'), 0) GROUP BY p.cashier_id"
        )
        return {int(r["cashier_id"]): (int(r["n"]), from_tiyn(int(r["tiyn"]))) for r in rows}

    @staticmethod
    def status_counts(tx: Tx) -> dict[Status, int]:
        rows = tx.all("SELECT status, COUNT(*) AS n FROM payments GROUP BY status")
        return {Status(r["status"]): int(r["n"]) for r in rows}

    @staticmethod
    def oldest_open(tx: Tx) -> datetime | None:
        value = tx.value(
            f"SELECT MIN(created_at) FROM payments WHERE status IN ({marks(OPEN)})", OPEN
        )
        return parse_ts(value) if value else None

    # ---------------------------------------------------------------- the supervisor's desk

    @staticmethod
    def day_sums(tx: Tx, start: datetime, end: datetime) -> list[tuple[int, Status, int, int, int]]:
        """Per (cashier, status) of payments created in [start, end): count, amount and fee
        in tiyn (integers: the desk's sums are exact)."""
        rows = tx.all(
            "SELECT cashier_id, status, COUNT(*) AS n, SUM(amount_tiyn) AS tiyn, "
            "SUM(fee_tiyn) AS fee FROM payments WHERE created_at >= ? AND created_at < ? "
            "GROUP BY cashier_id, status ORDER BY cashier_id, status",
            (ts(start), ts(end)),
        )
        return [
            (
                int(r["cashier_id"]),
                Status(r["status"]),
                int(r["n"]),
                int(r["tiyn"] or 0),
                int(r["fee"] or 0),
            )
            for r in rows
        ]

    @staticmethod
    def hourly(tx: Tx, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
        """How many payments were created in each UTC hour of [start, end) that has any:
        (the hour's start, count). Counted by the stored moment's first 13 characters
        (``YYYY-MM-DDTHH``, always UTC), at most 24 rows a day whatever the journal's size."""
        rows = tx.all(
            "SELECT SUBSTR(created_at, 1, 13) AS hour, COUNT(*) AS n FROM payments "
            "WHERE created_at >= ? AND created_at < ? GROUP BY SUBSTR(created_at, 1, 13)",
            (ts(start), ts(end)),
        )
        return [(datetime.fromisoformat(r["hour"] + ":00+00:00"), int(r["n"])) for r in rows]

    @staticmethod
    def first_created(tx: Tx, start: datetime, end: datetime) -> datetime | None:
        """When the first payment of [start, end) was created."""
        value = tx.value(
            "SELECT MIN(created_at) FROM payments WHERE created_at >= ? AND created_at < ?",
            (ts(start), ts(end)),
        )
        return parse_ts(value) if value else None

    @staticmethod
    def search(
        tx: Tx,
        start: datetime,
        end: datetime,
        *,
        cashier_id: int | None,
        status: Status | None,
        limit: int,
    ) -> list[Payment]:
        """Payments created in [start, end), newest first, of one cashier or status if given."""
        where = "created_at >= ? AND created_at < ?"
        args: tuple[Any, ...] = (ts(start), ts(end))
        if cashier_id is not None:
            where += " AND cashier_id = ?"
            args += (cashier_id,)
        if status is not None:
            where += " AND status = ?"
            args += (status.value,)
        rows = tx.all(
            f"SELECT {COLUMNS} FROM payments WHERE {where} ORDER BY created_at DESC, guid LIMIT ?",
            (*args, limit),
        )
        return [build(Payment, r) for r in rows]
