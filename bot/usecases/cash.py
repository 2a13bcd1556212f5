"""The paper money: cash on hand per cashier and its two-sided handover to a supervisor.

The cashier declares the amount counted (:meth:`CashDesk.declare`); a supervisor — the one
the cashier chose, or any — confirms the amount received or disputes it; the first answer
wins and nobody answers for their own cash. A supervisor may also record a handover on a
cashier's behalf (a removed or blocked cashier's cash survives them) and write off a
variance with a reason. Every step is audited and told through the outbox in its own
transaction. The arithmetic is :mod:`bot.domain.cash`'s; the figures are read by
:mod:`bot.usecases.cashbook`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from decimal import Decimal

from bot.domain.audit import AuditAmount, AuditCount, AuditDetail
from bot.domain.cash import (
    CashDay,
    CashPosition,
    Handover,
    HandoverOutcome,
    HandoverResult,
    HandoverState,
)
from bot.domain.clock import utcnow
from bot.domain.model import StaffUser
from bot.domain.reports import day_bounds
from bot.store.audit import AuditLog
from bot.store.db import Database, Tx
from bot.store.handovers import Handovers
from bot.store.roster import Roster
from bot.usecases.cashbook import CashBook, book_in, position_in, receivers_in, span_in
from bot.usecases.notices import Notices

log = logging.getLogger(__name__)


class CashDesk:
    def __init__(
        self, db: Database, notices: Notices, tz: tzinfo, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.notices = notices
        self.tz = tz
        self._clock = clock

    # ------------------------------------------------------------------ reading

    async def position(self, cashier_id: int) -> CashPosition:
        """One cashier's cash on hand, with the top-ups it comes from."""
        return await self.db.read(lambda tx: position_in(tx, cashier_id, listed=True))

    async def book(self) -> CashBook:
        """Every cashier with cash, a waiting handover, an open variance or a top-up without a
        final answer — removed and blocked ones too: their cash survives them."""
        return await self.db.read(book_in)

    async def receivers(self, cashier_id: int) -> list[StaffUser]:
        """Who may receive this cashier's cash: active supervisors and admins but them."""
        return await self.db.read(lambda tx: receivers_in(tx, cashier_id))

    async def get(self, handover_id: int) -> Handover | None:
        return await self.db.read(lambda tx: Handovers.get(tx, handover_id))

    async def view(
        self, handover_id: int, chat_id: int
    ) -> tuple[Handover | None, int | None, dict[int, str]]:
        """What a card needs: the handover, its card in ``chat_id``, and people's names."""
        return await self.db.read(
            lambda tx: (
                Handovers.get(tx, handover_id),
                Handovers.card_message(tx, handover_id, chat_id),
                Roster.names(tx),
            )
        )

    async def day(self, day: date) -> CashDay:
        """The digest's part: every position now and the day's answered handovers."""
        start, end = day_bounds(day, day, self.tz)

        def read(tx: Tx) -> CashDay:
            book = book_in(tx)
            return CashDay(tuple(book.positions), tuple(Handovers.answered_between(tx, start, end)))

        return await self.db.read(read)

    # ------------------------------------------------------------------ the cashier

    async def declare(
        self, cashier_id: int, chat_id: int, declared: Decimal, receiver_id: int | None
    ) -> HandoverResult:
        """The cashier hands over ``declared`` (what they counted) to ``receiver_id`` (None:
        any supervisor). It covers every top-up completed so far since the last handover."""
        now = self._clock()

        def declare(tx: Tx) -> HandoverResult:
            waiting = Handovers.waiting(tx, cashier_id)
            if waiting:
                return HandoverResult(HandoverOutcome.OPEN, waiting[0])
            receivers = [u.user_id for u in receivers_in(tx, cashier_id)]
            if not receivers:
                return HandoverResult(HandoverOutcome.NO_RECEIVER)
            if receiver_id is not None and receiver_id not in receivers:
                return HandoverResult(HandoverOutcome.NOT_YOURS)
            upto, expected, pending = span_in(tx, cashier_id)
            if not expected and not declared:
                return HandoverResult(HandoverOutcome.NOTHING)
            handover_id = Handovers.add(
                tx,
                now,
                cashier_id=cashier_id,
                chat_id=chat_id,
                receiver_id=receiver_id,
                state=HandoverState.DECLARED,
                upto_receipt=upto,
                expected=expected,
                pending=pending,
                declared=declared,
            )
            detail = AuditAmount(declared)
            AuditLog.add(tx, now, cashier_id, "handover.declared", f"#{handover_id}", detail)
            handover = Handovers.get(tx, handover_id)
            assert handover is not None
            chosen = [receiver_id] if receiver_id is not None else receivers
            self.notices.handover_declared(tx, now, handover, chosen)
            return HandoverResult(HandoverOutcome.DECLARED, handover)

        result = await self.db.write(declare)
        if result.outcome is HandoverOutcome.DECLARED:
            self.notices.wake()
        return result

    async def declared_in(self, handover_id: int, message_id: int) -> None:
        """The cashier's declaration message: where its answer will be told."""
        await self.db.write(lambda tx: Handovers.set_message(tx, handover_id, message_id))

    async def withdraw(self, handover_id: int, cashier_id: int) -> HandoverResult:
        now = self._clock()

        def withdraw(tx: Tx) -> HandoverResult:
            handover = Handovers.get(tx, handover_id)
            if handover is None or handover.cashier_id != cashier_id:
                return HandoverResult(HandoverOutcome.NOT_YOURS)
            if not self._close_in(tx, now, handover, HandoverState.WITHDRAWN, cashier_id):
                return HandoverResult(HandoverOutcome.ALREADY, handover)
            return HandoverResult(HandoverOutcome.WITHDRAWN, Handovers.get(tx, handover_id))

        return await self._write(withdraw)

    def withdraw_in(self, tx: Tx, now: datetime, user_id: int, actor_id: int) -> int:
        """Part of ending someone's work: their handover still waiting is withdrawn (the
        cash stays on hand; a supervisor can record it on their behalf), and so is every
        handover addressed to them by name (nobody else may answer it; the cashier is told
        and hands it over again)."""
        waiting = {h.id: h for h in Handovers.waiting(tx, user_id)}
        waiting.update((h.id, h) for h in Handovers.waiting_for(tx, user_id))
        return sum(
            self._close_in(tx, now, handover, HandoverState.WITHDRAWN, actor_id)
            for handover in waiting.values()
        )

    # ------------------------------------------------------------------ supervisors

    async def confirm(
        self, handover_id: int, actor_id: int, received: Decimal | None = None
    ) -> HandoverResult:
        """Received ``received`` (None: exactly what was declared). The first answer wins."""
        return await self._answer(handover_id, actor_id, HandoverState.CONFIRMED, received)

    async def dispute(self, handover_id: int, actor_id: int) -> HandoverResult:
        """Nothing was received: the cash stays on the cashier."""
        return await self._answer(handover_id, actor_id, HandoverState.DISPUTED, None)

    async def _answer(
        self, handover_id: int, actor_id: int, state: HandoverState, received: Decimal | None
    ) -> HandoverResult:
        now = self._clock()

        def answer(tx: Tx) -> HandoverResult:
            handover = Handovers.get(tx, handover_id)
            if handover is None:
                return HandoverResult(HandoverOutcome.NOT_FOUND)
            if handover.state is not HandoverState.DECLARED:
                return HandoverResult(HandoverOutcome.ALREADY, handover)
            if actor_id == handover.cashier_id:
                AuditLog.add(tx, now, actor_id, "handover.self_refused", f"#{handover_id}")
                return HandoverResult(HandoverOutcome.SELF, handover)
            if handover.receiver_id is not None and actor_id != handover.receiver_id:
                return HandoverResult(HandoverOutcome.NOT_YOURS, handover)
            amount = handover.declared if received is None else received
            if state is HandoverState.DISPUTED:
                amount = None
            if not self._close_in(tx, now, handover, state, actor_id, amount):
                return HandoverResult(HandoverOutcome.ALREADY, Handovers.get(tx, handover_id))
            outcome = (
                HandoverOutcome.CONFIRMED
                if state is HandoverState.CONFIRMED
                else HandoverOutcome.DISPUTED
            )
            return HandoverResult(outcome, Handovers.get(tx, handover_id))

        return await self._write(answer)

    def _close_in(
        self,
        tx: Tx,
        now: datetime,
        handover: Handover,
        state: HandoverState,
        actor_id: int | None,
        received: Decimal | None = None,
    ) -> bool:
        """DECLARED → ``state`` (once): audited; the cashier and every card are told."""
        if not Handovers.answer(tx, now, handover.id, state, actor_id, received):
            return False
        if received is not None:
            detail: AuditDetail | None = AuditCount(received, handover.expected)
        else:  # withdrawn, or nothing received: what was declared
            detail = AuditAmount(handover.declared) if handover.declared is not None else None
        AuditLog.add(
            tx, now, actor_id, f"handover.{state.value.lower()}", f"#{handover.id}", detail
        )
        closed = Handovers.get(tx, handover.id)
        assert closed is not None
        self.notices.handover_answered(tx, now, closed)
        return True

    async def latest(self, cashier_id: int) -> int:
        """The cashier's newest handover number (0: none): a record acts only on that."""
        return await self.db.read(lambda tx: Handovers.latest_id(tx, cashier_id))

    async def record(
        self, actor_id: int, cashier_id: int, received: Decimal, seen: int
    ) -> HandoverResult:
        """A supervisor received ``received`` (0: nothing — the cash is written up as a
        shortage) from a cashier who cannot declare it (removed, blocked, without their
        phone): a confirmed handover on their behalf. ``seen``: the cashier's newest
        handover when the supervisor chose to record — if another came since (a second
        supervisor recorded, a declaration was answered), nothing is recorded twice."""
        now = self._clock()

        def record(tx: Tx) -> HandoverResult:
            if actor_id == cashier_id:
                AuditLog.add(tx, now, actor_id, "handover.self_refused", str(cashier_id))
                return HandoverResult(HandoverOutcome.SELF)
            waiting = Handovers.waiting(tx, cashier_id)
            if waiting:
                return HandoverResult(HandoverOutcome.OPEN, waiting[0])
            latest = Handovers.latest_id(tx, cashier_id)
            if latest != seen:
                return HandoverResult(HandoverOutcome.ALREADY, Handovers.get(tx, latest))
            upto, expected, pending = span_in(tx, cashier_id)
            if not expected and not received:
                return HandoverResult(HandoverOutcome.NOTHING)
            handover_id = Handovers.add(
                tx,
                now,
                cashier_id=cashier_id,
                chat_id=None,
                receiver_id=actor_id,
                state=HandoverState.CONFIRMED,
                upto_receipt=upto,
                expected=expected,
                pending=pending,
                declared=None,
                received=received,
                decided_by=actor_id,
            )
            AuditLog.add(
                tx,
                now,
                actor_id,
                "handover.recorded",
                f"#{handover_id}",
                AuditCount(received, expected),
            )
            return HandoverResult(HandoverOutcome.RECORDED, Handovers.get(tx, handover_id))

        return await self.db.write(record)

    async def write_off(self, handover_id: int, actor_id: int, reason: str) -> HandoverResult:
        """Settle a handover's open variance, with the supervisor's reason."""
        now = self._clock()
        reason = reason.strip()

        def write_off(tx: Tx) -> HandoverResult:
            handover = Handovers.get(tx, handover_id)
            if handover is None:
                return HandoverResult(HandoverOutcome.NOT_FOUND)
            if actor_id == handover.cashier_id:
                AuditLog.add(tx, now, actor_id, "handover.self_refused", f"#{handover_id}")
                return HandoverResult(HandoverOutcome.SELF, handover)
            if handover.written_off_at is not None:
                return HandoverResult(HandoverOutcome.ALREADY, handover)
            if not handover.open_variance or not reason:
                return HandoverResult(HandoverOutcome.NOTHING, handover)
            if not Handovers.write_off(tx, now, handover_id, handover.variance, actor_id, reason):
                return HandoverResult(HandoverOutcome.ALREADY, handover)
            AuditLog.add(
                tx,
                now,
                actor_id,
                "handover.written_off",
                f"#{handover_id}",
                AuditAmount(abs(handover.variance)),
            )
            settled = Handovers.get(tx, handover_id)
            assert settled is not None
            # Every card of it shows the write-off too, and the cashier hears of it.
            self.notices.handover_answered(tx, now, settled)
            return HandoverResult(HandoverOutcome.WRITTEN_OFF, settled)

        return await self._write(write_off)

    async def card_sent(self, handover_id: int, chat_id: int, message_id: int) -> Handover | None:
        """A card was sent: remember it, and return the handover as it is now (it may have
        been answered while the card was on its way)."""

        def record(tx: Tx) -> Handover | None:
            Handovers.record_card(tx, handover_id, chat_id, message_id)
            return Handovers.get(tx, handover_id)

        return await self.db.write(record, durable=False)

    async def _write(self, fn: Callable[[Tx], HandoverResult]) -> HandoverResult:
        result = await self.db.write(fn)
        if result.outcome in (
            HandoverOutcome.CONFIRMED,
            HandoverOutcome.DISPUTED,
            HandoverOutcome.WITHDRAWN,
            HandoverOutcome.WRITTEN_OFF,
        ):
            handover = result.handover
            log.info("handover #%s: %s", handover.id if handover else "?", result.outcome.value)
            self.notices.wake()
        return result
