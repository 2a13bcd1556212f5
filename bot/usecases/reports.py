"""What people ask of the journal: history, look-ups, receipts, totals, exports, the audit
trail — each answer read in one trip, with the names it shows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum
from typing import Protocol

from bot.allpay.answers import BalanceResult
from bot.allpay.protocol import AllpayError, AllpayErrorKind
from bot.domain.audit import AuditEntry
from bot.domain.cash import Handover
from bot.domain.model import Approval, Payment, Status
from bot.domain.receipts import Parties, Receipt
from bot.domain.reports import AgentBalance, Lookup, Summary, day_bounds, summarize
from bot.store.approvals import Approvals
from bot.store.audit import AuditLog
from bot.store.db import Database, Tx
from bot.store.handovers import Handovers
from bot.store.payments import Payments
from bot.store.roster import Roster

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Page:
    payments: list[Payment]
    total: int
    names: dict[int, str]


@dataclass(frozen=True, slots=True)
class Export:
    """A period's payments and cash handovers, with the names they mention."""

    payments: list[Payment]
    handovers: list[Handover]
    names: dict[int, str]


@dataclass(frozen=True, slots=True)
class Listing:
    """Payments and the names of the people they mention."""

    payments: list[Payment]
    names: dict[int, str]


class BalanceSource(Protocol):
    tm_url: str | None

    async def available_balance(self, lang: str) -> BalanceResult: ...


class BalanceAnswer(StrEnum):
    KNOWN = "known"
    NOT_CONFIGURED = "not_configured"  # no TransactionManagement endpoint (ALLPAY_TM_URL)
    NO_ANSWER = "no_answer"


@dataclass(frozen=True, slots=True)
class Balance:
    answer: BalanceAnswer
    result: AgentBalance | None = None


class Reports:
    def __init__(
        self,
        db: Database,
        tz: tzinfo,
        allpay: BalanceSource,
        parties: Parties | None = None,
        *,
        sandbox: bool = False,
    ) -> None:
        self.db = db
        self.tz = tz
        self.allpay = allpay
        self.parties = parties or Parties()
        #: The embedded sandbox answers: receipts say no real money moved.
        self.sandbox = sandbox

    async def balance(self, lang: str) -> Balance:
        """The agent's balance in Allpay (TransactionManagement ``availableBalance``)."""
        try:
            result = await self.allpay.available_balance(lang)
        except AllpayError as error:
            if error.kind is AllpayErrorKind.UNAVAILABLE and self.allpay.tm_url is None:
                return Balance(BalanceAnswer.NOT_CONFIGURED)
            log.warning("availableBalance failed: %s", error)
            return Balance(BalanceAnswer.NO_ANSWER)
        shown = AgentBalance(result.amount, result.raw, as_of=result.header.timestamp)
        return Balance(BalanceAnswer.KNOWN, shown)

    async def history(self, owner: int | None, offset: int, limit: int, until: datetime) -> Page:
        """``owner``'s payments (None: everyone's), newest first, as of ``until``."""

        def page(tx: Tx) -> Page:
            payments, total = Payments.page(tx, owner, offset, limit, until)
            return Page(payments, total, Roster.names(tx) if owner is None else {})

        return await self.db.read(page)

    async def find(self, lookup: Lookup, owner: int | None, limit: int) -> Listing:
        def find(tx: Tx) -> Listing:
            found = Payments.find(
                tx,
                guid_prefix=lookup.guid_prefix,
                login=lookup.login,
                cashier_id=owner,
                limit=limit,
            )
            return Listing(found, Roster.names(tx) if found else {})

        return await self.db.read(find)

    async def find_page(
        self, lookup: Lookup, owner: int | None, offset: int, limit: int, until: datetime
    ) -> Page:
        """/find's matches ``owner`` may see (None: everyone's), a page at a time, newest
        first, as of ``until``; the names of the cashiers they mention."""

        def page(tx: Tx) -> Page:
            found, total = Payments.find_page(
                tx,
                guid_prefix=lookup.guid_prefix,
                login=lookup.login,
                cashier_id=owner,
                offset=offset,
                limit=limit,
                until=until,
            )
            return Page(found, total, Roster.names(tx) if found else {})

        return await self.db.read(page)

    async def detail(self, guid: str, owner: int | None) -> Listing:
        """One payment ``owner`` may see (someone else's answers as a missing one)."""

        def read(tx: Tx) -> Listing:
            payment = Payments.get(tx, guid)
            if payment is None or (owner is not None and payment.cashier_id != owner):
                return Listing([], {})
            return Listing([payment], Roster.names(tx))

        return await self.db.read(read)

    async def receipt(self, guid: str, owner: int | None) -> Receipt | None:
        """The receipt of a completed payment ``owner`` may see (someone else's answers as a
        missing one)."""

        def read(tx: Tx) -> Receipt | None:
            payment = Payments.get(tx, guid)
            if payment is None or payment.status is not Status.COMPLETED:
                return None
            if owner is not None and payment.cashier_id != owner:
                return None
            cashier = Roster.names(tx).get(payment.cashier_id) or str(payment.cashier_id)
            return Receipt(payment, cashier, self.parties, sandbox=self.sandbox)

        return await self.db.read(read)

    async def totals(
        self, first: date, last: date, owner: int | None = None
    ) -> tuple[Summary, dict[int, str]]:
        """Per cashier and status, the local days ``first``..``last``."""
        start, end = day_bounds(first, last, self.tz)

        def totals(tx: Tx) -> tuple[Summary, dict[int, str]]:
            summary = summarize(Payments.totals(tx, start, end, owner))
            return summary, Roster.names(tx) if owner is None else {}

        return await self.db.read(totals)

    async def export(self, first: date, last: date) -> Export:
        start, end = day_bounds(first, last, self.tz)
        return await self.db.read(
            lambda tx: Export(
                Payments.between(tx, start, end),
                Handovers.between(tx, start, end),
                Roster.names(tx),
            ),
            slow=True,  # up to 93 days of top-ups
        )

    async def unresolved(self) -> Listing:
        """Payments without Allpay's final word, oldest first: they need attention most."""
        return await self.db.read(lambda tx: Listing(Payments.unresolved(tx), Roster.names(tx)))

    async def pending(self) -> tuple[Listing, list[Approval]]:
        """What waits for someone: payments without Allpay's final word and approval
        requests without a decision, oldest first."""
        return await self.db.read(
            lambda tx: (
                Listing(Payments.unresolved(tx), Roster.names(tx)),
                Approvals.waiting(tx),
            )
        )

    async def audit(self, limit: int) -> tuple[list[AuditEntry], dict[int, str]]:
        return await self.db.read(lambda tx: (AuditLog.latest(tx, limit), Roster.names(tx)))

    async def health(self) -> tuple[dict[Status, int], datetime | None]:
        """For /metrics: payments per status, and when the oldest open one was created."""
        return await self.db.read(lambda tx: (Payments.status_counts(tx), Payments.oldest_open(tx)))
