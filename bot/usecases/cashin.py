"""The cash-in steps: the login, the client, the amount, the card and the confirm tap.

A draft holds the conversation's facts (the login, the client, the amount and the card its
buttons belong to); the conversation state holds only the draft's id. Limits are checked
when the amount is typed and again, atomically, in the confirm tap's transaction — which
either journals the payment (and sends it at once), asks a supervisor, or refuses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from enum import StrEnum

from bot.domain.audit import AuditLimit
from bot.domain.clock import utcnow
from bot.domain.limits import LimitRefusal, Limits
from bot.domain.masking import mask_login
from bot.domain.model import Confirmation, ConfirmOutcome, Draft, DraftState
from bot.infra.outage import PartDown
from bot.store.approvals import Approvals
from bot.store.audit import AuditLog
from bot.store.db import Database, Tx
from bot.store.drafts import Drafts
from bot.store.payments import Payments
from bot.store.roster import Roster
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.limits import day_of, refusal_in, usage_in
from bot.usecases.lookup import Check, ClientDirectory, Found, look_up
from bot.usecases.sending import Sender

log = logging.getLogger(__name__)


class AmountStep(StrEnum):
    CARD = "card"  # the card is open: show it
    REFUSED = "refused"  # over a limit: a smaller amount, or /cancel
    NO_DECIDER = "no_decider"  # needs an approval nobody else could give: a smaller amount
    RESTART = "restart"  # no draft to put it on (ended meanwhile): start again


@dataclass(frozen=True, slots=True)
class Amounted:
    step: AmountStep
    draft: Draft | None = None
    refusal: LimitRefusal | None = None
    #: CARD: its confirm asks a supervisor first (the amount reaches APPROVAL_THRESHOLD).
    approval: bool = False


@dataclass(frozen=True, slots=True)
class Button:
    """What a card's button points at: the draft, and whether a payment or an approval
    request was made from it (then its message belongs to the outbox)."""

    draft: Draft | None
    settled: bool
    #: The pressed message now belongs to another draft, a payment or a request (it was
    #: edited into later steps): a stale button on it must not touch it.
    taken: bool = False


class CashIn:
    def __init__(
        self,
        db: Database,
        directory: ClientDirectory,
        sender: Sender,
        desk: ApprovalDesk,
        limits: Limits,
        *,
        tz: tzinfo,
        smallest: Decimal = Decimal(1),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.directory = directory
        #: The smallest top-up (AMOUNT_MIN): a limit with less left is used up.
        self.smallest = smallest
        self.sender = sender
        self.desk = desk
        self.limits = limits
        self.tz = tz
        self._clock = clock

    def today(self) -> tuple[datetime, datetime]:
        """[start, end) of the local day (``TIMEZONE``) that daily limits count."""
        return day_of(self._clock(), self.tz)

    # ------------------------------------------------------------------ the login

    async def recent_clients(self, cashier_id: int, limit: int = 5) -> list[tuple[str, str]]:
        """Whom the cashier topped up lately (login, name), offered at the login step."""
        return await self.db.read(lambda tx: Payments.recent_clients(tx, cashier_id, limit))

    async def client_of(self, guid: str, cashier_id: int) -> str | None:
        """The login of the cashier's own payment ("again for this client"), else None."""
        payment = await self.db.read(lambda tx: Payments.get(tx, guid))
        if payment is None or payment.cashier_id != cashier_id:
            return None
        return payment.login

    async def used_up(self, cashier_id: int) -> LimitRefusal | None:
        """The cashier's own daily limit nothing fits in any more (asked at /cashin, before
        a login is typed), or None."""
        if not self.limits.counts_cashier:
            return None
        day = self.today()

        def used(tx: Tx) -> LimitRefusal | None:
            cashier, _client = usage_in(tx, self.limits, cashier_id=cashier_id, login=None, day=day)
            return self.limits.used_up(self.smallest, cashier)

        return await self.db.read(used)

    async def begin(self, cashier_id: int) -> None:
        """A new top-up: whatever the cashier had unfinished is closed."""
        now = self._clock()
        await self.db.write(lambda tx: Drafts.cancel_unfinished(tx, now, cashier_id), durable=False)

    async def check_login(self, cashier_id: int, chat_id: int, login: str, lang: str) -> Check:
        """Ask Allpay who the client is; a draft keeps the login (and the client, if found)."""
        check = await look_up(self.directory, login, lang)
        if check.found is Found.NO_CLIENT:
            return check
        client = check.client
        now, day = self._clock(), self.today()
        limit: LimitRefusal | None = None

        def start(tx: Tx) -> Draft | None:
            nonlocal limit
            # Blocked or removed while Allpay was asked: no new work for them.
            if not Roster.active(tx, cashier_id):
                return None
            if client is not None and (self.limits.counts_client or self.limits.counts_cashier):
                cashier, used = usage_in(
                    tx, self.limits, cashier_id=cashier_id, login=login, day=day
                )
                limit = self.limits.used_up(self.smallest, cashier, used)
                if limit is not None:
                    return None  # nothing fits today: no draft, the login step stays
                sums = self.limits.sums_left(cashier, used)
                limit = sums[0] if sums else None
            Drafts.cancel_unfinished(tx, now, cashier_id)
            known = (
                (client.name, client.identified, client.masked_iin) if client is not None else None
            )
            return Drafts.start(
                tx, now, cashier_id=cashier_id, chat_id=chat_id, login=login, lang=lang,
                client=known,
            )  # fmt: skip

        draft = await self.db.write(start, durable=False)
        if draft is None and limit is not None:
            return Check(Found.LIMIT, client=client, limit=limit)
        if draft is None:
            return Check(Found.ENDED)
        return Check(check.found, draft, client, check.message, check.code, limit)

    async def check_again(self, draft: Draft) -> Check:
        """The retry button after Allpay did not answer (``draft``: see :meth:`current`)."""
        check = await look_up(self.directory, draft.login, draft.lang)
        client = check.client
        if client is None:
            return Check(check.found, draft, None, check.message, check.code)
        now = self._clock()
        found = await self.db.write(
            lambda tx: Drafts.set_client(
                tx, now, draft, client.name, client.identified, client.masked_iin
            ),
            durable=False,
        )
        return Check(Found.CLIENT, draft, client) if found else Check(Found.ENDED)

    async def current(self, draft_id: str | None, cashier_id: int) -> Draft | None:
        """The draft a conversation works on, if it is the cashier's and unfinished."""
        if draft_id is None:
            return None
        draft = await self.db.read(lambda tx: Drafts.get(tx, draft_id))
        if draft is None or draft.cashier_id != cashier_id or not draft.state.unfinished:
            return None
        return draft

    # ------------------------------------------------------------------ the amount

    def _refusal_in(
        self, tx: Tx, cashier_id: int, login: str, amount: Decimal, day: tuple[datetime, datetime]
    ) -> LimitRefusal | None:
        """The day's limits for this amount: payments sent (or possibly sent) and requests
        waiting for approval both count."""
        return refusal_in(
            tx, self.limits, cashier_id=cashier_id, login=login, amount=amount, day=day
        )

    async def enter_amount(
        self, draft_id: str | None, cashier_id: int, amount: Decimal
    ) -> Amounted:
        """The amount for the draft's client: a new open card (an earlier card of this draft
        dies with its buttons), or a refusal over a limit — in one transaction."""
        now, day = self._clock(), self.today()

        def enter(tx: Tx) -> Amounted:
            draft = Drafts.get(tx, draft_id) if draft_id is not None else None
            if (
                draft is None
                or draft.cashier_id != cashier_id
                or draft.state not in (DraftState.CLIENT, DraftState.OPEN)
            ):
                return Amounted(AmountStep.RESTART)
            refusal = self._refusal_in(tx, cashier_id, draft.login, amount, day)
            if refusal is not None:
                return Amounted(AmountStep.REFUSED, refusal=refusal)
            approval = self.limits.needs_approval(amount)
            if approval and not self.desk.others_can_decide_in(tx, cashier_id):
                # Nobody else may approve it (a group chat decides only through a person):
                # said now, before any card says to take the cash — never left to expire.
                return Amounted(AmountStep.NO_DECIDER)
            card_id = draft.id
            if draft.state is DraftState.OPEN:
                card_id = Drafts.reopen(tx, now, draft.id, cashier_id) or draft.id
            if not Drafts.open_card(tx, now, card_id, cashier_id, amount):
                return Amounted(AmountStep.RESTART)
            return Amounted(AmountStep.CARD, Drafts.get(tx, card_id), approval=approval)

        return await self.db.write(enter, durable=False)

    async def card_shown(self, draft_id: str, message_id: int) -> None:
        await self.db.write(lambda tx: Drafts.set_card(tx, draft_id, message_id), durable=False)

    async def change_amount(self, draft_id: str, cashier_id: int) -> str | None:
        """ "Change the amount": the open card is cancelled and a new draft for the same client
        waits for the amount; its id."""
        now = self._clock()
        return await self.db.write(
            lambda tx: Drafts.reopen(tx, now, draft_id, cashier_id), durable=False
        )

    async def cancel(self, cashier_id: int) -> None:
        """The card's ✖️: the cashier's unfinished drafts close (approval requests stay)."""
        await self.begin(cashier_id)

    async def button(
        self, draft_id: str, chat_id: int | None = None, message_id: int | None = None
    ) -> Button:
        """What a card's button points at, and who owns the message it was pressed on, in one
        read."""

        def look(tx: Tx) -> Button:
            draft = Drafts.get(tx, draft_id)
            settled = (
                Payments.for_draft(tx, draft_id) is not None
                or Approvals.for_draft(tx, draft_id) is not None
            )
            taken = (
                chat_id is not None
                and message_id is not None
                and (
                    Drafts.other_card(tx, chat_id, message_id, draft_id)
                    or Payments.on_message(tx, chat_id, message_id)
                    or Approvals.on_message(tx, chat_id, message_id)
                )
            )
            return Button(draft, settled, bool(taken))

        return await self.db.read(look)

    # ------------------------------------------------------------------ the confirm tap

    def look_again(self) -> None:
        """After a confirm the journal did not answer, and after its card said so: the
        resolver sends what it may have journaled, the outbox shows it (woken only now, so
        the card's "not confirmed yet" never lands over its status)."""
        self.sender.resolver_wakeup.set()
        self.sender.notices.wake()
        self.desk.requested()

    async def show_again(self, draft_id: str) -> bool:
        """A press on a card whose confirm did become a payment (its answer was lost): the
        card shows that payment's status again, through the outbox. False: no payment."""
        now = self._clock()

        def again(tx: Tx) -> bool:
            payment = Payments.for_draft(tx, draft_id)
            if payment is None:
                return False
            self.sender.notices.payment_changed(tx, now, payment.chat_id, payment.guid, final=False)
            return True

        shown = await self.db.write(again, durable=False)
        if shown:
            self.sender.notices.wake()
        return shown

    async def confirm(
        self, draft_id: str, cashier_id: int, *, chat_id: int | None, message_id: int | None
    ) -> Confirmation:
        """The confirm tap on the card (``chat_id``, ``message_id``): limits, then an approval
        request or a journaled payment — atomically, durably. A payment is sent at once."""
        now, day = self._clock(), self.today()

        def confirm(tx: Tx) -> Confirmation:
            draft = Drafts.get(tx, draft_id)
            if draft is None or draft.cashier_id != cashier_id or draft.state != "OPEN":
                return Confirmation(ConfirmOutcome.STALE)
            # The card is recorded once shown (a crash may come first: then the button's
            # presence on the pressed message, checked before any handler, is the proof).
            if chat_id != draft.chat_id or (
                draft.card_message_id is not None and draft.card_message_id != message_id
            ):
                return Confirmation(ConfirmOutcome.NOT_THIS_CARD)
            assert draft.amount is not None
            refusal = self._refusal_in(tx, cashier_id, draft.login, draft.amount, day)
            if refusal is not None:
                AuditLog.add(
                    tx,
                    now,
                    cashier_id,
                    f"limit.{refusal.kind.value}",
                    draft_id,
                    AuditLimit(draft.amount, refusal),
                )
                return Confirmation(ConfirmOutcome.REFUSED, refusal=refusal)
            needs_approval = self.limits.needs_approval(draft.amount)
            if needs_approval and not self.desk.others_can_decide_in(tx, cashier_id):
                # The card stays open (another amount, or cancel): no request left to expire.
                return Confirmation(ConfirmOutcome.NO_DECIDER)
            if not Drafts.take(tx, now, draft_id, cashier_id):
                return Confirmation(ConfirmOutcome.STALE)
            if needs_approval:
                approval = self.desk.request_in(tx, now, draft, message_id)
                return Confirmation(ConfirmOutcome.AWAITING, approval=approval)
            payment = self.sender.journal_in(tx, now, draft, cashier_id, message_id)
            return Confirmation(ConfirmOutcome.PAID, payment=payment)

        try:
            result = await self.db.write(confirm)
        except PartDown:
            # Landed or not, nobody can tell until the journal answers. If it did, the
            # payment holds this process's lease and its status message is queued: the
            # resolver and the outbox find both once woken (``look_again``, after the card
            # says so) and the journal answers. The GUID is the journal's: nothing is sent
            # from here.
            log.warning("a confirm by %d: the journal did not answer", cashier_id)
            return Confirmation(ConfirmOutcome.UNRECORDED)
        if result.payment is not None:
            log.info(
                "payment %s journaled: %s to %s by %d",
                result.payment.guid,
                result.payment.amount,
                mask_login(result.payment.login),
                cashier_id,
            )
            # Sent now, before anything is said to Telegram: no Telegram wait delays money.
            self.sender.send_soon(result.payment)
            self.sender.notices.wake()  # its status message is queued
        elif result.approval is not None:
            log.info("top-up by %d awaits a supervisor's approval", cashier_id)
            self.desk.requested()
        elif result.refusal is not None:
            log.info("top-up by %d refused: %s", cashier_id, result.refusal.kind.value)
        return result
