"""A test's view of the journal: seeding drafts and payments the way the bot makes them, and
reading back what the repositories hold. It goes through the same repositories and use-case
steps as the bot (nothing here writes SQL of its own)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal

import psycopg

from bot.allpay.answers import PayResult
from bot.domain.audit import AuditEntry
from bot.domain.clock import utcnow
from bot.domain.model import (
    Draft,
    OutboxItem,
    Payment,
    RetryPolicy,
    StaffUser,
    Status,
)
from bot.store.audit import AuditLog
from bot.store.db import Database, Tx
from bot.store.drafts import Drafts
from bot.store.outbox import Outbox
from bot.store.payments import Payments
from bot.store.roster import Roster
from bot.usecases.digest import DigestScheduler
from bot.usecases.notices import Notices
from bot.usecases.sending import Sender

#: What a refused constraint or trigger raises, on either backend.
INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.errors.IntegrityError)


class _NoGateway:
    async def pay(self, guid: str, login: str, amount: Decimal, lang: str) -> PayResult:
        raise AssertionError("the journal view never sends")


class Journal:
    def __init__(self, db: Database, supervisor_chats: Iterable[int] = ()) -> None:
        self.db = db
        self.notices = Notices(supervisor_chats)
        # Its payments are the bot's to send: it keeps no lease on them.
        self.sender = Sender(
            db,
            _NoGateway(),
            RetryPolicy(1, 2, 60, 600),
            self.notices,
            requester="sandbox-agent",
            lease=0,
        )

    # ------------------------------------------------------------------ seeding

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
        """An open confirmation card, as the cash-in steps leave it."""
        now = utcnow()

        def create(tx: Tx) -> Draft:
            Drafts.cancel_unfinished(tx, now, cashier_id)
            draft = Drafts.start(
                tx,
                now,
                cashier_id=cashier_id,
                chat_id=chat_id,
                login=login,
                lang=lang,
                client=(client_name, identified, None),
            )
            assert Drafts.open_card(tx, now, draft.id, cashier_id, amount)
            if card_message_id is not None:
                Drafts.set_card(tx, draft.id, card_message_id)
            opened = Drafts.get(tx, draft.id)
            assert opened is not None
            return opened

        return await self.db.write(create)

    async def claim_draft(self, draft_id: str, cashier_id: int) -> Payment | None:
        """The confirm tap's journaling step without its checks: OPEN → a NEW payment."""
        now = utcnow()

        def claim(tx: Tx) -> Payment | None:
            draft = Drafts.get(tx, draft_id)
            if draft is None or not Drafts.take(tx, now, draft_id, cashier_id):
                return None
            return self.sender.journal_in(tx, now, draft, cashier_id, None)

        return await self.db.write(claim)

    async def record_attempt(
        self, guid: str, result: PayResult, *, now: datetime, next_attempt_at: datetime
    ) -> tuple[Payment, bool]:
        return await self.db.write(
            lambda tx: self.sender.record_in(tx, now, guid, result, next_attempt_at)
        )

    async def give_up(self, guid: str) -> bool:
        return await self.sender.give_up(guid)

    async def enqueue_digest(self, day: date, now: datetime) -> bool:
        return await DigestScheduler(self.db, self.notices, time(0), UTC).enqueue(day, now)

    async def set_user_name(self, user_id: int, name: str) -> None:
        await self.db.write(lambda tx: Roster().rename(tx, user_id, name, only_if_unnamed=True))

    # ------------------------------------------------------------------ reading

    async def get_payment(self, guid: str) -> Payment | None:
        return await self.db.read(lambda tx: Payments.get(tx, guid))

    async def payment_for_draft(self, draft_id: str) -> Payment | None:
        return await self.db.read(lambda tx: Payments.for_draft(tx, draft_id))

    async def payments_page(
        self, cashier_id: int | None, offset: int, limit: int, *, until: datetime | None = None
    ) -> tuple[list[Payment], int]:
        return await self.db.read(lambda tx: Payments.page(tx, cashier_id, offset, limit, until))

    async def open_payments(self) -> list[Payment]:
        return await self.db.read(Payments.open)

    async def unresolved(self) -> list[Payment]:
        return await self.db.read(Payments.unresolved)

    async def status_counts(self) -> dict[Status, int]:
        return await self.db.read(Payments.status_counts)

    async def names(self) -> dict[int, str]:
        return await self.db.read(Roster.names)

    async def roster(self) -> list[StaffUser]:
        return await self.db.read(Roster.listing)

    async def audit_log(self, limit: int = 20) -> list[AuditEntry]:
        return await self.db.read(lambda tx: AuditLog.latest(tx, limit))

    async def due_outbox(
        self, now: datetime, limit: int = 50, *, chat_id: int | None = None
    ) -> list[OutboxItem]:
        return await self.db.read(lambda tx: Outbox.due(tx, now, limit, chat_id=chat_id))
