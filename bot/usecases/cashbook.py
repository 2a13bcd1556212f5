"""Cash on hand, read in the caller's transaction: one cashier's position, every cashier's
(:class:`CashBook`), who may receive a cashier's cash, and what a handover declared now
covers. :class:`~bot.usecases.cash.CashDesk` reads and decides with these."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.domain.cash import CashPosition, Handover
from bot.domain.model import StaffUser
from bot.store.db import Tx
from bot.store.handovers import Handovers
from bot.store.payments import Payments
from bot.store.roster import Roster


@dataclass(frozen=True, slots=True)
class CashBook:
    """Every cashier's paper money now (a supervisor's /cash), with the names it shows."""

    positions: list[CashPosition]
    names: dict[int, str]

    @property
    def total(self) -> Decimal:
        return sum((p.collected for p in self.positions), Decimal(0))


def position_in(tx: Tx, cashier_id: int, *, listed: bool) -> CashPosition:
    """One cashier's cash on hand; ``listed``: with the top-ups it comes from."""
    after, since = Handovers.last_confirmed(tx, cashier_id)
    collected = Payments.completed_between(tx, cashier_id, after)
    unresolved = [
        p for p in Payments.unresolved(tx) if p.cashier_id == cashier_id
    ]  # few: those without Allpay's final word
    waiting = Handovers.waiting(tx, cashier_id)
    return CashPosition(
        cashier_id=cashier_id,
        collected=sum((p.cash for p in collected), Decimal(0)),
        count=len(collected),
        since=since,
        waiting=waiting[0] if waiting else None,
        open_variances=tuple(Handovers.open_variances(tx, cashier_id)),
        unresolved=sum((p.cash for p in unresolved), Decimal(0)),
        unresolved_count=len(unresolved),
        payments=tuple(collected) if listed else (),
        unresolved_payments=tuple(unresolved) if listed else (),
    )


def book_in(tx: Tx) -> CashBook:
    """Every cashier with cash, a waiting handover, an open variance or a top-up without a
    final answer, and everyone's names."""
    collected = Payments.collected(tx)
    since = Handovers.last_confirmed_all(tx)
    waiting = {h.cashier_id: h for h in Handovers.waiting(tx)}
    variances: dict[int, list[Handover]] = {}
    for handover in Handovers.open_variances(tx):
        variances.setdefault(handover.cashier_id, []).append(handover)
    unresolved: dict[int, list[Decimal]] = {}
    for payment in Payments.unresolved(tx):
        unresolved.setdefault(payment.cashier_id, []).append(payment.cash)
    people = set(collected) | set(waiting) | set(variances) | set(unresolved)
    positions = [
        CashPosition(
            cashier_id=cashier_id,
            collected=collected.get(cashier_id, (0, Decimal(0)))[1],
            count=collected.get(cashier_id, (0, Decimal(0)))[0],
            since=since.get(cashier_id),
            waiting=waiting.get(cashier_id),
            open_variances=tuple(variances.get(cashier_id, ())),
            unresolved=sum(unresolved.get(cashier_id, ()), Decimal(0)),
            unresolved_count=len(unresolved.get(cashier_id, ())),
        )
        for cashier_id in sorted(people)
    ]
    return CashBook(positions, Roster.names(tx))


def receivers_in(tx: Tx, cashier_id: int) -> list[StaffUser]:
    return [
        user
        for user in Roster.listing(tx)
        if user.role.sees_everyone and not user.blocked and user.user_id != cashier_id
    ]


def span_in(tx: Tx, cashier_id: int) -> tuple[int, Decimal, Decimal]:
    """What a handover declared now covers: up to which receipt, the cash accepted of
    the completed top-ups since the last one, and the cash kept back for top-ups
    without Allpay's final answer (not part of it)."""
    after, _since = Handovers.last_confirmed(tx, cashier_id)
    upto = Payments.last_receipt(tx)
    covered = Payments.completed_between(tx, cashier_id, after, upto)
    pending = [p for p in Payments.unresolved(tx) if p.cashier_id == cashier_id]
    return (
        upto,
        sum((p.cash for p in covered), Decimal(0)),
        sum((p.cash for p in pending), Decimal(0)),
    )
