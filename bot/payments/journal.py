"""The payment journal: drafts, payments, roster, outbox and audit, in one SQLite file.

Rules this module keeps:
- a payment row (with its GUID) is committed before anything is sent to Allpay;
- COMPLETED and DECLINED are final and never change;
- every status change that someone must hear about enqueues its notifications in the same
  transaction (a transactional outbox), so a crash cannot lose a cashier's or a
  supervisor's message.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

import aiosqlite

from bot.allpay.protocol import PayResult
from bot.payments.db import Database, parse_ts, ts, utcnow
from bot.redaction import redact_error

TIYN = 100
P = ParamSpec("P")
R = TypeVar("R")


def to_tiyn(amount: Decimal) -> int:
    tiyn = amount * TIYN
    if tiyn != tiyn.to_integral_value():
        raise ValueError("amount has more than two decimal places")
    return int(tiyn)


def from_tiyn(tiyn: int) -> Decimal:
    return (Decimal(tiyn) / TIYN).quantize(Decimal(1) if tiyn % TIYN == 0 else Decimal("0.01"))


def new_guid() -> str:
    return f"{{{uuid.uuid4()}}}"


class Status(StrEnum):
    NEW = "NEW"  # journaled; nothing known from Allpay yet
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    DECLINED = "DECLINED"
    UNKNOWN = "UNKNOWN"  # gave up resending: needs manual reconciliation

    @property
    def is_final(self) -> bool:
        return self in (Status.COMPLETED, Status.DECLINED, Status.UNKNOWN)

    @property
    def icon(self) -> str:
        return {"COMPLETED": "✅", "DECLINED": "❌", "UNKNOWN": "⚠️"}.get(self.value, "⏳")


OPEN_STATUSES = (Status.NEW.value, Status.PENDING.value)


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    CASHIER = "cashier"

    @property
    def sees_everyone(self) -> bool:
        return self in (Role.ADMIN, Role.SUPERVISOR)


class OutboxKind(StrEnum):
    STATUS = "status"  # the cashier's status message: edit it (or send anew)
    FINAL = "final"  # a supervisor chat: a payment became final
    ALERT = "alert"  # a supervisor chat: a payment is stuck pending
    DIGEST = "digest"  # a supervisor chat: the day's totals (ref: the local day)
    APPROVAL_REQUEST = "approval"  # a supervisor: approve/reject card (ref: approval id)
    APPROVAL_CARD = "approval_card"  # a supervisor: edit the card to its decision
    APPROVAL_NOTICE = "approval_notice"  # the cashier: waiting / rejected / expired / cancelled


class RosterChange(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    UNCHANGED = "unchanged"
    REMOVED = "removed"
    NOT_FOUND = "not_found"
    LAST_ADMIN = "last_admin"  # would leave the bot without an admin
    CONFIGURED_ADMIN = "configured_admin"  # in ADMIN_IDS: it would come back at the next start


@dataclass(frozen=True, slots=True)
class StaffUser:
    user_id: int
    role: Role
    name: str | None
    blocked: bool


@dataclass(frozen=True, slots=True)
class Draft:
    id: str
    cashier_id: int
    chat_id: int
    login: str
    client_name: str
    identified: bool
    amount: Decimal | None  # None until the amount step (states LOGIN and CLIENT)
    lang: str
    state: str
    guid: str | None
    card_message_id: int | None = None  # the confirmation card its buttons belong to


@dataclass(frozen=True, slots=True)
class Payment:
    guid: str
    draft_id: str | None
    requester: str
    cashier_id: int
    chat_id: int
    message_id: int | None
    login: str
    client_name: str
    amount: Decimal
    lang: str
    status: Status
    attempts: int
    last_error: str | None
    user_message: str | None
    developer_message: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    final_at: datetime | None
    alerted_at: datetime | None
    receipt_no: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: OutboxKind
    chat_id: int
    guid: str | None
    attempts: int
    ref: str | None = None
    progress: int = 0  # parts of a multi-part message already delivered


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor_id: int | None  # None: the bot itself
    action: str
    subject: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class Totals:
    """One cashier's payments of one status in a period."""

    cashier_id: int
    status: Status
    count: int
    amount: Decimal


_PAYMENT_COLUMNS = (
    "guid, draft_id, requester, cashier_id, chat_id, message_id, login, client_name, "
    "amount_tiyn, lang, status, attempts, last_error, user_message, developer_message, reason, "
    "created_at, updated_at, next_attempt_at, last_attempt_at, final_at, alerted_at, receipt_no"
)


def _opt_ts(value: str | None) -> datetime | None:
    return parse_ts(value) if value else None


def _payment(row: Sequence[Any]) -> Payment:
    return Payment(
        guid=row[0],
        draft_id=row[1],
        requester=row[2],
        cashier_id=row[3],
        chat_id=row[4],
        message_id=row[5],
        login=row[6],
        client_name=row[7],
        amount=from_tiyn(row[8]),
        lang=row[9],
        status=Status(row[10]),
        attempts=row[11],
        last_error=row[12],
        user_message=row[13],
        developer_message=row[14],
        reason=row[15],
        created_at=parse_ts(row[16]),
        updated_at=parse_ts(row[17]),
        next_attempt_at=parse_ts(row[18]),
        last_attempt_at=_opt_ts(row[19]),
        final_at=_opt_ts(row[20]),
        alerted_at=_opt_ts(row[21]),
        receipt_no=row[22],
    )


def _draft(row: Sequence[Any]) -> Draft:
    return Draft(
        id=row[0],
        cashier_id=row[1],
        chat_id=row[2],
        login=row[3],
        client_name=row[4],
        identified=bool(row[5]),
        amount=from_tiyn(row[6]) if row[6] is not None else None,
        lang=row[7],
        state=row[8],
        guid=row[9],
        card_message_id=row[10],
    )


_DRAFT_COLUMNS = (
    "id, cashier_id, chat_id, login, client_name, identified, amount_tiyn, lang, state, guid, "
    "card_message_id"
)
#: A draft the cashier is still working on: typed login, known client, or an open card.
_UNFINISHED = "('LOGIN', 'CLIENT', 'OPEN')"


def _changes_roster(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Drop the roster cache after the call, whatever it did."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        finally:
            journal = args[0]
            assert isinstance(journal, Journal)
            journal.roster_changed()

    return wrapper


class Journal:
    def __init__(self, db: Database, supervisor_chat_ids: Iterable[int] = ()) -> None:
        self.db = db
        self.supervisor_chat_ids = tuple(supervisor_chat_ids)
        # Every update asks who the person is and which language they chose. This process is
        # the only writer, so these are kept in memory and dropped on every roster change.
        self._users: dict[int, StaffUser | None] = {}
        self._languages: dict[int, str | None] = {}

    def roster_changed(self) -> None:
        """Forget cached roster entries (called after every write to ``users``)."""
        self._users.clear()

    # ------------------------------------------------------------------ audit

    @staticmethod
    async def audit_in(
        conn: aiosqlite.Connection,
        actor_id: int | None,
        action: str,
        subject: str | None,
        detail: str | None = None,
    ) -> None:
        await conn.execute(
            "INSERT INTO audit (at, actor_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            (ts(utcnow()), actor_id, action, subject, redact_error(detail)),
        )

    async def audit_log(self, limit: int = 20) -> list[AuditEntry]:
        """The latest entries, newest first."""
        async with (
            self.db.read() as conn,
            conn.execute(
                "SELECT at, actor_id, action, subject, detail FROM audit ORDER BY id DESC LIMIT ?",
                (limit,),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [AuditEntry(parse_ts(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    # ------------------------------------------------------------------ roster

    @_changes_roster
    async def seed_roles(
        self, admins: Iterable[int], supervisors: Iterable[int], cashiers: Iterable[int]
    ) -> None:
        """Apply the configured ids at start-up.

        ``ADMIN_IDS`` are always admins (the way back in if the roster is ever broken).
        ``SUPERVISOR_IDS`` and ``CASHIER_IDS`` only seed people the roster has never seen:
        after that, the roster managed in chat (/add_cashier, /remove...) is the truth.
        """
        admin_ids = set(admins)
        seeds: dict[int, Role] = {}
        for ids, role in ((cashiers, Role.CASHIER), (supervisors, Role.SUPERVISOR)):
            for user_id in ids:
                if user_id not in admin_ids:
                    seeds[user_id] = role
        now = ts(utcnow())
        async with self.db.tx() as conn:
            for user_id in admin_ids:
                cur = await conn.execute(
                    "INSERT INTO users (user_id, role, created_at, updated_at) "
                    "VALUES (?, 'admin', ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                    "role = 'admin', removed_at = NULL, updated_at = excluded.updated_at "
                    "WHERE users.role != 'admin' OR users.removed_at IS NOT NULL",
                    (user_id, now, now),
                )
                if cur.rowcount:
                    await self.audit_in(conn, None, "roster.seed", str(user_id), Role.ADMIN.value)
            for user_id, role in seeds.items():
                cur = await conn.execute(
                    "INSERT INTO users (user_id, role, created_at, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (user_id) DO NOTHING",
                    (user_id, role.value, now, now),
                )
                if cur.rowcount:
                    await self.audit_in(conn, None, "roster.seed", str(user_id), role.value)

    async def roster(self) -> list[StaffUser]:
        async with (
            self.db.read() as conn,
            conn.execute(
                "SELECT user_id, role, name, blocked FROM users WHERE removed_at IS NULL "
                "ORDER BY CASE role WHEN 'admin' THEN 0 WHEN 'supervisor' THEN 1 ELSE 2 END, "
                "user_id"
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [StaffUser(r[0], Role(r[1]), r[2], bool(r[3])) for r in rows]

    async def names(self) -> dict[int, str]:
        """Everyone the roster ever knew (removed people still name their old payments)."""
        async with (
            self.db.read() as conn,
            conn.execute("SELECT user_id, name FROM users WHERE name IS NOT NULL") as cur,
        ):
            rows = await cur.fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    @staticmethod
    async def would_orphan_in(conn: aiosqlite.Connection, user_id: int) -> bool:
        """True when ``user_id`` is the only admin left."""
        async with conn.execute(
            "SELECT COUNT(*), SUM(user_id = ?) FROM users "
            "WHERE role = 'admin' AND removed_at IS NULL AND blocked = 0",
            (user_id,),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return bool(row[1]) and int(row[0]) <= 1

    @_changes_roster
    async def set_role(
        self,
        actor_id: int,
        user_id: int,
        role: Role,
        name: str | None = None,
        *,
        configured_admins: Iterable[int] = (),
    ) -> RosterChange:
        """Add someone to the roster with ``role``, or change their role."""
        now = ts(utcnow())
        async with self.db.tx() as conn:
            async with conn.execute(
                "SELECT role, removed_at FROM users WHERE user_id = ?", (user_id,)
            ) as cur:
                row = await cur.fetchone()
            present = row is not None and row[1] is None
            if present and row is not None and row[0] == role.value:
                if name:
                    await conn.execute(
                        "UPDATE users SET name = ? WHERE user_id = ?", (name, user_id)
                    )
                return RosterChange.UNCHANGED
            if present and row is not None:
                refusal = await self.admin_guard_in(conn, user_id, Role(row[0]), configured_admins)
                if refusal is not None:
                    return refusal
            await conn.execute(
                "INSERT INTO users (user_id, role, name, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, "
                "name = COALESCE(excluded.name, users.name), removed_at = NULL, "
                "updated_at = excluded.updated_at",
                (user_id, role.value, name or None, now, now),
            )
            change = RosterChange.CHANGED if present else RosterChange.ADDED
            await self.audit_in(
                conn,
                actor_id,
                f"roster.{change.value}",
                str(user_id),
                f"{row[0]}->{role.value}" if present and row is not None else role.value,
            )
            return change

    async def remove_user_in(
        self,
        conn: aiosqlite.Connection,
        actor_id: int,
        user_id: int,
        *,
        configured_admins: Iterable[int] = (),
    ) -> RosterChange:
        """Soft removal (old payments keep the name). Ending the person's open work is the
        caller's part of the same transaction: see ``Controls.remove_user``."""
        async with conn.execute(
            "SELECT role FROM users WHERE user_id = ? AND removed_at IS NULL", (user_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return RosterChange.NOT_FOUND
        refusal = await self.admin_guard_in(conn, user_id, Role(row[0]), configured_admins)
        if refusal is not None:
            return refusal
        now = ts(utcnow())
        await conn.execute(
            "UPDATE users SET removed_at = ?, updated_at = ? WHERE user_id = ?",
            (now, now, user_id),
        )
        await self.audit_in(conn, actor_id, "roster.removed", str(user_id), row[0])
        return RosterChange.REMOVED

    async def admin_guard_in(
        self,
        conn: aiosqlite.Connection,
        user_id: int,
        role: Role,
        configured_admins: Iterable[int],
    ) -> RosterChange | None:
        """Why an admin may not lose access (removed, demoted, blocked), or None: one rule."""
        if role is not Role.ADMIN:
            return None
        if user_id in set(configured_admins):
            return RosterChange.CONFIGURED_ADMIN
        if await self.would_orphan_in(conn, user_id):
            return RosterChange.LAST_ADMIN
        return None

    async def get_user(self, user_id: int) -> StaffUser | None:
        if user_id in self._users:
            return self._users[user_id]
        async with (
            self.db.read() as conn,
            conn.execute(
                "SELECT user_id, role, name, blocked FROM users "
                "WHERE user_id = ? AND removed_at IS NULL",
                (user_id,),
            ) as cur,
        ):
            row = await cur.fetchone()
        user = StaffUser(row[0], Role(row[1]), row[2], bool(row[3])) if row else None
        if user is not None:  # strangers are not remembered: a flood of ids costs no memory
            self._users[user_id] = user
        return user

    @_changes_roster
    async def set_user_name(self, user_id: int, name: str) -> None:
        async with self.db.tx(durable=False) as conn:
            await conn.execute(
                "UPDATE users SET name = ? WHERE user_id = ? AND name IS NULL", (name, user_id)
            )

    async def get_language(self, user_id: int) -> str | None:
        if user_id in self._languages:
            return self._languages[user_id]
        async with (
            self.db.read() as conn,
            conn.execute("SELECT language FROM user_prefs WHERE user_id = ?", (user_id,)) as cur,
        ):
            row = await cur.fetchone()
        language = str(row[0]) if row else None
        self._languages[user_id] = language
        return language

    async def set_language(self, user_id: int, language: str) -> None:
        async with self.db.tx(durable=False) as conn:
            await conn.execute(
                "INSERT INTO user_prefs (user_id, language) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET language = excluded.language",
                (user_id, language),
            )
        self._languages[user_id] = language

    # ------------------------------------------------------------------ drafts

    async def create_draft(
        self,
        *,
        cashier_id: int,
        chat_id: int,
        login: str,
        client_name: str,
        identified: bool,
        amount: Decimal,
        lang: str,
        card_message_id: int | None = None,
    ) -> Draft:
        """A new confirmation card; any other open draft of this cashier is cancelled."""
        draft_id = secrets.token_urlsafe(9)  # 12 characters: short callback_data
        now = ts(utcnow())
        async with self.db.tx(durable=False) as conn:
            await self.cancel_drafts_in(conn, cashier_id)
            await conn.execute(
                f"INSERT INTO drafts ({_DRAFT_COLUMNS}, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'OPEN', NULL, ?, ?, ?)",
                (
                    draft_id,
                    cashier_id,
                    chat_id,
                    login,
                    client_name,
                    int(identified),
                    to_tiyn(amount),
                    lang,
                    card_message_id,
                    now,
                    now,
                ),
            )
        draft = await self.get_draft(draft_id)
        assert draft is not None
        return draft

    async def get_draft(self, draft_id: str) -> Draft | None:
        async with (
            self.db.read() as conn,
            conn.execute(f"SELECT {_DRAFT_COLUMNS} FROM drafts WHERE id = ?", (draft_id,)) as cur,
        ):
            row = await cur.fetchone()
        return _draft(row) if row else None

    async def start_draft(self, *, cashier_id: int, chat_id: int, login: str, lang: str) -> Draft:
        """The first step of a top-up: the typed login, kept here (never in the conversation
        state). Any other unfinished draft of this cashier is cancelled."""
        draft_id = secrets.token_urlsafe(9)
        now = ts(utcnow())
        async with self.db.tx(durable=False) as conn:
            await self.cancel_drafts_in(conn, cashier_id)
            await conn.execute(
                "INSERT INTO drafts (id, cashier_id, chat_id, login, lang, state, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, 'LOGIN', ?, ?)",
                (draft_id, cashier_id, chat_id, login, lang, now, now),
            )
        draft = await self.get_draft(draft_id)
        assert draft is not None
        return draft

    async def set_draft_client(
        self, draft_id: str, cashier_id: int, *, client_name: str, identified: bool
    ) -> Draft | None:
        """Allpay found the client: LOGIN (or CLIENT again) → CLIENT."""
        return await self._advance_draft(
            draft_id,
            cashier_id,
            "client_name = ?, identified = ?, state = 'CLIENT'",
            (client_name, int(identified)),
            "('LOGIN', 'CLIENT')",
        )

    async def open_card(self, draft_id: str, cashier_id: int, amount: Decimal) -> Draft | None:
        """The amount is typed: CLIENT → OPEN, the confirmation card's state (its card is
        recorded by ``set_draft_card`` once shown)."""
        return await self._advance_draft(
            draft_id,
            cashier_id,
            "amount_tiyn = ?, state = 'OPEN'",
            (to_tiyn(amount),),
            "('CLIENT')",  # an open card is never changed: a new amount is a new draft
        )

    async def set_draft_card(self, draft_id: str, message_id: int) -> None:
        """The card now shown for an open draft: its buttons act on no other message."""
        async with self.db.tx(durable=False) as conn:
            await conn.execute(
                "UPDATE drafts SET card_message_id = ? WHERE id = ? AND state = 'OPEN'",
                (message_id, draft_id),
            )

    async def reopen_draft(self, draft_id: str, cashier_id: int) -> Draft | None:
        """ "Change the amount": the open card is cancelled (its buttons die with it) and a new
        draft for the same client waits for the amount."""
        new_id = secrets.token_urlsafe(9)
        now = ts(utcnow())
        async with self.db.tx(durable=False) as conn:
            cur = await conn.execute(
                "UPDATE drafts SET state = 'CANCELLED', updated_at = ? "
                "WHERE id = ? AND cashier_id = ? AND state = 'OPEN'",
                (now, draft_id, cashier_id),
            )
            if cur.rowcount != 1:
                return None
            await conn.execute(
                "INSERT INTO drafts (id, cashier_id, chat_id, login, client_name, identified, "
                "lang, state, created_at, updated_at) SELECT ?, cashier_id, chat_id, login, "
                "client_name, identified, lang, 'CLIENT', ?, ? FROM drafts WHERE id = ?",
                (new_id, now, now, draft_id),
            )
        return await self.get_draft(new_id)

    async def _advance_draft(
        self,
        draft_id: str,
        cashier_id: int,
        assignments: str,
        values: tuple[object, ...],
        from_states: str,
    ) -> Draft | None:
        async with self.db.tx(durable=False) as conn:
            cur = await conn.execute(
                f"UPDATE drafts SET {assignments}, updated_at = ? "
                f"WHERE id = ? AND cashier_id = ? AND state IN {from_states}",
                (*values, ts(utcnow()), draft_id, cashier_id),
            )
            if cur.rowcount != 1:
                return None
        return await self.get_draft(draft_id)

    async def cancel_drafts(self, cashier_id: int) -> int:
        """Close the cashier's unfinished drafts (a new top-up replaces them); approvals stay."""
        async with self.db.tx(durable=False) as conn:
            return await self.cancel_drafts_in(conn, cashier_id)

    @staticmethod
    async def cancel_drafts_in(conn: aiosqlite.Connection, cashier_id: int) -> int:
        cur = await conn.execute(
            "UPDATE drafts SET state = 'CANCELLED', updated_at = ? "
            f"WHERE cashier_id = ? AND state IN {_UNFINISHED}",
            (ts(utcnow()), cashier_id),
        )
        return cur.rowcount

    async def claim_draft(
        self,
        draft_id: str,
        cashier_id: int,
        *,
        requester: str,
        message_id: int | None,
        first_attempt_at: datetime,
    ) -> Payment | None:
        """Atomically turn an OPEN draft into a NEW payment with a fresh GUID, durably.

        Returns None when the draft is not open (tapped before, cancelled, someone else's):
        exactly one tap of a confirm button ever creates a payment.
        """
        async with self.db.tx() as conn:
            if not await self.take_draft_in(conn, draft_id, cashier_id):
                return None
            guid = await self.create_payment_in(
                conn,
                draft_id,
                cashier_id,
                requester=requester,
                message_id=message_id,
                first_attempt_at=first_attempt_at,
            )
        payment = await self.get_payment(guid)
        assert payment is not None
        return payment

    @staticmethod
    async def take_draft_in(conn: aiosqlite.Connection, draft_id: str, cashier_id: int) -> bool:
        """OPEN → CONFIRMED, in the caller's transaction; False if it was not open."""
        cur = await conn.execute(
            "UPDATE drafts SET state = 'CONFIRMED', updated_at = ? "
            "WHERE id = ? AND cashier_id = ? AND state = 'OPEN'",
            (ts(utcnow()), draft_id, cashier_id),
        )
        return cur.rowcount == 1

    async def create_payment_in(
        self,
        conn: aiosqlite.Connection,
        draft_id: str,
        actor_id: int,
        *,
        requester: str,
        message_id: int | None,
        first_attempt_at: datetime,
    ) -> str:
        """A NEW payment with a fresh GUID from a confirmed draft, in the caller's transaction."""
        guid = new_guid()
        now = ts(utcnow())
        await conn.execute("UPDATE drafts SET guid = ? WHERE id = ?", (guid, draft_id))
        await conn.execute(
            f"INSERT INTO payments ({_PAYMENT_COLUMNS}) "
            "SELECT ?, id, ?, cashier_id, chat_id, ?, login, client_name, amount_tiyn, lang, "
            "'NEW', 0, NULL, NULL, NULL, NULL, ?, ?, ?, NULL, NULL, NULL, NULL "
            "FROM drafts WHERE id = ?",
            (guid, requester, message_id, now, now, ts(first_attempt_at), draft_id),
        )
        await self.audit_in(conn, actor_id, "payment.created", guid)
        return guid

    # ------------------------------------------------------------------ payments

    async def get_payment(self, guid: str) -> Payment | None:
        async with (
            self.db.read() as conn,
            conn.execute(f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE guid = ?", (guid,)) as cur,
        ):
            row = await cur.fetchone()
        return _payment(row) if row else None

    async def payment_for_draft(self, draft_id: str) -> Payment | None:
        async with (
            self.db.read() as conn,
            conn.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE draft_id = ?", (draft_id,)
            ) as cur,
        ):
            row = await cur.fetchone()
        return _payment(row) if row else None

    async def set_message(self, guid: str, chat_id: int, message_id: int) -> None:
        async with self.db.tx(durable=False) as conn:
            await conn.execute(
                "UPDATE payments SET chat_id = ?, message_id = ? WHERE guid = ?",
                (chat_id, message_id, guid),
            )

    async def due_payments(self, now: datetime, limit: int = 100) -> list[Payment]:
        async with (
            self.db.read() as conn,
            conn.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE status IN (?, ?) "
                "AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
                (*OPEN_STATUSES, ts(now), limit),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [_payment(r) for r in rows]

    async def next_due(self) -> datetime | None:
        async with (
            self.db.read() as conn,
            conn.execute(
                "SELECT MIN(next_attempt_at) FROM payments WHERE status IN (?, ?)", OPEN_STATUSES
            ) as cur,
        ):
            row = await cur.fetchone()
        return parse_ts(row[0]) if row and row[0] else None

    async def open_payments(self) -> list[Payment]:
        async with (
            self.db.read() as conn,
            conn.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE status IN (?, ?) "
                "ORDER BY created_at",
                OPEN_STATUSES,
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [_payment(r) for r in rows]

    async def record_attempt(
        self, guid: str, result: PayResult, *, now: datetime, next_attempt_at: datetime
    ) -> tuple[Payment, bool]:
        """Write what one send established; return (payment, status changed).

        A final status is never overwritten. A status change enqueues the cashier's status
        message and, when final, each supervisor chat's notification — in this transaction.
        """
        async with self.db.tx() as conn:
            async with conn.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE guid = ?", (guid,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise LookupError(guid)
            before = _payment(row)
            if before.status.is_final:
                # Allpay's final answers never change; a contradicting one is logged by the caller.
                await conn.execute(
                    "UPDATE payments SET attempts = attempts + 1, last_attempt_at = ? "
                    "WHERE guid = ?",
                    (ts(now), guid),
                )
                return before, False
            new_status = Status(result.status.value)
            changed = new_status is not before.status
            final = new_status.is_final
            await conn.execute(
                "UPDATE payments SET status = ?, attempts = attempts + 1, last_error = ?, "
                "user_message = COALESCE(?, user_message), "
                "developer_message = COALESCE(?, developer_message), "
                "reason = COALESCE(?, reason), updated_at = ?, last_attempt_at = ?, "
                "next_attempt_at = ?, final_at = ? WHERE guid = ?",
                (
                    new_status.value,
                    redact_error(result.cause),
                    result.user_message,
                    result.developer_message,
                    result.reason,
                    ts(now),
                    ts(now),
                    ts(next_attempt_at),
                    ts(now) if final else None,
                    guid,
                ),
            )
            if new_status is Status.COMPLETED:
                await conn.execute(
                    "UPDATE payments SET receipt_no = "
                    "(SELECT COALESCE(MAX(receipt_no), 0) + 1 FROM payments) WHERE guid = ?",
                    (guid,),
                )
            if changed:
                await self.audit_in(
                    conn, None, "payment.status", guid, f"{before.status.value}->{new_status.value}"
                )
                await self.enqueue_in(conn, OutboxKind.STATUS, before.chat_id, guid, now)
                if final:
                    for chat_id in self.supervisor_chat_ids:
                        await self.enqueue_in(conn, OutboxKind.FINAL, chat_id, guid, now)
            async with conn.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE guid = ?", (guid,)
            ) as cur:
                after = await cur.fetchone()
        assert after is not None
        return _payment(after), changed

    async def mark_alerted(self, guid: str, now: datetime) -> bool:
        """Raise the one 'stuck pending' alert for a payment; False if already raised."""
        async with self.db.tx() as conn:
            cur = await conn.execute(
                "UPDATE payments SET alerted_at = ? WHERE guid = ? AND alerted_at IS NULL "
                "AND status IN (?, ?)",
                (ts(now), guid, *OPEN_STATUSES),
            )
            if cur.rowcount != 1:
                return False
            for chat_id in self.supervisor_chat_ids:
                await self.enqueue_in(conn, OutboxKind.ALERT, chat_id, guid, now)
            await self.audit_in(conn, None, "payment.alert", guid)
            return True

    async def give_up(self, guid: str, now: datetime) -> bool:
        """Stop resending: UNKNOWN, needs manual reconciliation. Cashier and supervisors told."""
        async with self.db.tx() as conn:
            async with conn.execute("SELECT chat_id FROM payments WHERE guid = ?", (guid,)) as cur:
                row = await cur.fetchone()
            cur2 = await conn.execute(
                "UPDATE payments SET status = 'UNKNOWN', updated_at = ?, final_at = ? "
                "WHERE guid = ? AND status IN (?, ?)",
                (ts(now), ts(now), guid, *OPEN_STATUSES),
            )
            if cur2.rowcount != 1 or row is None:
                return False
            await self.audit_in(conn, None, "payment.status", guid, "->UNKNOWN (gave up)")
            await self.enqueue_in(conn, OutboxKind.STATUS, row[0], guid, now)
            for chat_id in self.supervisor_chat_ids:
                await self.enqueue_in(conn, OutboxKind.FINAL, chat_id, guid, now)
            return True

    # ------------------------------------------------------------------ queries for people

    async def payments_page(
        self, cashier_id: int | None, offset: int, limit: int, *, until: datetime | None = None
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
        async with self.db.read() as conn:
            async with conn.execute(f"SELECT COUNT(*) FROM payments {where}", args) as cur:
                total_row = await cur.fetchone()
            async with conn.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments {where} "
                "ORDER BY created_at DESC, guid LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ) as cur:
                rows = await cur.fetchall()
        return [_payment(r) for r in rows], int(total_row[0]) if total_row else 0

    async def find_payments(
        self,
        *,
        guid_prefix: str | None = None,
        login: str | None = None,
        cashier_id: int | None = None,
        limit: int = 10,
    ) -> list[Payment]:
        """Payments whose GUID starts with ``guid_prefix`` (lower-case hex, no brace) or whose
        client login is ``login``; only ``cashier_id``'s when given. Newest first."""
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
            return []
        where = f"({' OR '.join(matches)})"
        if cashier_id is not None:
            where += " AND cashier_id = ?"
            args.append(cashier_id)
        async with (
            self.db.read() as conn,
            conn.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE {where} "
                "ORDER BY created_at DESC LIMIT ?",
                (*args, limit),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [_payment(r) for r in rows]

    @staticmethod
    async def sent_since_in(
        conn: aiosqlite.Connection, cashier_id: int, since: datetime
    ) -> list[Payment]:
        """The cashier's payments journaled since ``since`` that reached (or may have reached)
        Allpay: everything but DECLINED, newest first."""
        async with conn.execute(
            f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE cashier_id = ? AND created_at >= ? "
            "AND status != 'DECLINED' ORDER BY created_at DESC",
            (cashier_id, ts(since)),
        ) as cur:
            return [_payment(r) for r in await cur.fetchall()]

    async def payments_between(self, start: datetime, end: datetime) -> list[Payment]:
        """Payments created in [start, end), oldest first (for exports)."""
        async with (
            self.db.read() as conn,
            conn.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments "
                "WHERE created_at >= ? AND created_at < ? ORDER BY created_at, guid",
                (ts(start), ts(end)),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [_payment(r) for r in rows]

    async def unresolved(self) -> list[Payment]:
        """Every payment without Allpay's final word: open ones and those given up on."""
        async with (
            self.db.read() as conn,
            conn.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE status IN (?, ?, ?) "
                "ORDER BY created_at",
                (*OPEN_STATUSES, Status.UNKNOWN.value),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [_payment(r) for r in rows]

    async def totals(
        self, start: datetime, end: datetime, cashier_id: int | None = None
    ) -> list[Totals]:
        """Count and sum per (cashier, status) of payments created in [start, end)."""
        where = "created_at >= ? AND created_at < ?"
        args: tuple[Any, ...] = (ts(start), ts(end))
        if cashier_id is not None:
            where += " AND cashier_id = ?"
            args += (cashier_id,)
        async with (
            self.db.read() as conn,
            conn.execute(
                "SELECT cashier_id, status, COUNT(*), SUM(amount_tiyn) FROM payments "
                f"WHERE {where} "
                "GROUP BY cashier_id, status ORDER BY cashier_id, status",
                args,
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [Totals(r[0], Status(r[1]), r[2], from_tiyn(r[3])) for r in rows]

    async def status_counts(self) -> dict[Status, int]:
        async with (
            self.db.read() as conn,
            conn.execute("SELECT status, COUNT(*) FROM payments GROUP BY status") as cur,
        ):
            rows = await cur.fetchall()
        return {Status(r[0]): int(r[1]) for r in rows}

    async def oldest_open(self) -> datetime | None:
        async with (
            self.db.read() as conn,
            conn.execute(
                "SELECT MIN(created_at) FROM payments WHERE status IN (?, ?)", OPEN_STATUSES
            ) as cur,
        ):
            row = await cur.fetchone()
        return parse_ts(row[0]) if row and row[0] else None

    # ------------------------------------------------------------------ daily digest

    async def enqueue_digest(self, day: date, now: datetime) -> bool:
        """Queue ``day``'s digest for every supervisor chat, once per day ever."""
        async with self.db.tx() as conn:
            cur = await conn.execute(
                "INSERT INTO digests (day, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (day.isoformat(), ts(now)),
            )
            if cur.rowcount != 1:
                return False
            for chat_id in self.supervisor_chat_ids:
                await self.enqueue_in(
                    conn, OutboxKind.DIGEST, chat_id, None, now, ref=day.isoformat()
                )
            return True

    async def last_digest_day(self) -> date | None:
        async with (
            self.db.read() as conn,
            conn.execute("SELECT MAX(day) FROM digests") as cur,
        ):
            row = await cur.fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    # ------------------------------------------------------------------ outbox

    @staticmethod
    async def enqueue_in(
        conn: aiosqlite.Connection,
        kind: OutboxKind,
        chat_id: int,
        guid: str | None,
        now: datetime,
        *,
        ref: str | None = None,
    ) -> None:
        await conn.execute(
            "INSERT INTO outbox (kind, chat_id, guid, ref, next_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (kind.value, chat_id, guid, ref, ts(now), ts(now)),
        )

    async def due_outbox(
        self, now: datetime, limit: int = 50, *, chat_id: int | None = None
    ) -> list[OutboxItem]:
        """Due items in order, all chats or one."""
        where = "done_at IS NULL AND next_at <= ?" + (" AND chat_id = ?" if chat_id else "")
        params: tuple[object, ...] = (ts(now), chat_id) if chat_id else (ts(now),)
        async with (
            self.db.read() as conn,
            conn.execute(
                f"SELECT id, kind, chat_id, guid, attempts, ref, progress FROM outbox "
                f"WHERE {where} ORDER BY id LIMIT ?",
                (*params, limit),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [OutboxItem(r[0], OutboxKind(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    async def due_outbox_chats(self, now: datetime) -> dict[int, set[OutboxKind]]:
        """The chats with something due, and the kinds they have waiting."""
        async with (
            self.db.read() as conn,
            conn.execute(
                "SELECT chat_id, kind FROM outbox WHERE done_at IS NULL AND next_at <= ? "
                "GROUP BY chat_id, kind",
                (ts(now),),
            ) as cur,
        ):
            rows = await cur.fetchall()
        chats: dict[int, set[OutboxKind]] = {}
        for chat_id, kind in rows:
            chats.setdefault(int(chat_id), set()).add(OutboxKind(kind))
        return chats

    async def outbox_progress(self, item_id: int, parts: int) -> None:
        """``parts`` of a multi-part item are delivered: a retry resumes after them."""
        async with self.db.tx(durable=False) as conn:
            await conn.execute("UPDATE outbox SET progress = ? WHERE id = ?", (parts, item_id))

    async def next_outbox_at(self, busy_chats: Iterable[int] = ()) -> datetime | None:
        """When the next item is due, leaving out chats already being delivered to."""
        busy = [int(chat) for chat in busy_chats]
        marks = ", ".join("?" * len(busy))
        where = f"done_at IS NULL AND chat_id NOT IN ({marks})" if busy else "done_at IS NULL"
        async with (
            self.db.read() as conn,
            conn.execute(f"SELECT MIN(next_at) FROM outbox WHERE {where}", busy) as cur,
        ):
            row = await cur.fetchone()
        return parse_ts(row[0]) if row and row[0] else None

    async def undelivered_status(self, guids: Iterable[str]) -> set[str]:
        """Which of these payments still have their cashier's status message to deliver."""
        wanted = list(dict.fromkeys(guids))
        if not wanted:
            return set()
        marks = ", ".join("?" * len(wanted))
        async with (
            self.db.read() as conn,
            conn.execute(
                "SELECT DISTINCT guid FROM outbox WHERE kind = 'status' AND done_at IS NULL "
                f"AND guid IN ({marks})",
                wanted,
            ) as cur,
        ):
            return {str(r[0]) for r in await cur.fetchall()}

    async def outbox_later(self, delay: float, *item_ids: int) -> None:
        """Not yet (no attempt made): due again in ``delay`` seconds."""
        next_at = ts(utcnow() + timedelta(seconds=delay))
        async with self.db.tx(durable=False) as conn:
            await conn.executemany(
                "UPDATE outbox SET next_at = ? WHERE id = ?", [(next_at, i) for i in item_ids]
            )

    async def outbox_done(self, *item_ids: int, failed: str | None = None) -> None:
        async with self.db.tx(durable=False) as conn:
            await conn.executemany(
                "UPDATE outbox SET done_at = ?, attempts = attempts + 1, failed = ?, "
                "last_error = COALESCE(?, last_error) WHERE id = ?",
                [
                    (ts(utcnow()), int(failed is not None), redact_error(failed), item_id)
                    for item_id in item_ids
                ],
            )

    async def outbox_retry(self, error: str, delay: float, *item_ids: int) -> None:
        next_at = ts(utcnow() + timedelta(seconds=delay))
        async with self.db.tx(durable=False) as conn:
            await conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ? "
                "WHERE id = ?",
                [(redact_error(error), next_at, item_id) for item_id in item_ids],
            )
