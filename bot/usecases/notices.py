"""Who must hear of what: the outbox rows a change queues, in the change's own transaction.

A crash cannot lose a cashier's or a supervisor's message: the message is committed with the
change. After the commit the use case calls :meth:`Notices.wake` so the outbox delivers it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import date, datetime

from bot.domain.balance import BalanceAlert
from bot.domain.cash import Handover
from bot.domain.model import Approval, ApprovalState, OutboxKind, StaffUser
from bot.store.approvals import Approvals
from bot.store.db import Tx
from bot.store.handovers import Handovers
from bot.store.outbox import Outbox
from bot.store.roster import Roster

DESK_REF = "desk:"
#: The ref of a menu button set back to Telegram's default: the person lost the desk, or
#: the desk is off (no WEBAPP_URL). Never a desk's ref, so a later grant that Telegram
#: refused is queued again at the person's /start or the next start.
MENU_OFF = "off"


def desk_ref(url: str) -> str:
    """What a menu button's outbox item keeps of the desk's address: a digest of it, so the
    buttons set for one address are known at the next start, and a new address sets them
    all again."""
    return DESK_REF + hashlib.sha256(url.encode()).hexdigest()[:16]


class Notices:
    def __init__(self, supervisor_chats: Iterable[int], desk_url: str | None = None) -> None:
        self.supervisor_chats = tuple(supervisor_chats)
        #: With the desk (WEBAPP_URL): the ref of its menu buttons' outbox items.
        self.menu_ref = desk_ref(desk_url) if desk_url is not None else None
        #: Called after a commit that queued messages: the outbox's wake-up (set in app.py).
        self.wake: Callable[[], None] = lambda: None

    def payment_changed(self, tx: Tx, now: datetime, chat_id: int, guid: str, final: bool) -> None:
        """The cashier's status message; every supervisor chat too once it is final."""
        Outbox.enqueue(tx, now, OutboxKind.STATUS, chat_id, guid)
        if final:
            for chat in self.supervisor_chats:
                Outbox.enqueue(tx, now, OutboxKind.FINAL, chat, guid)

    def stuck(self, tx: Tx, now: datetime, guid: str) -> None:
        for chat in self.supervisor_chats:
            Outbox.enqueue(tx, now, OutboxKind.ALERT, chat, guid)

    def approval_requested(self, tx: Tx, now: datetime, approval: Approval) -> None:
        """The cashier's card turns into the waiting notice — in order before anything a
        decision queues, so a fast decision is never overwritten by a late "waiting" — and
        every supervisor chat and every active supervisor and admin gets a card with the
        buttons: all but the requester, whose own notice is their card (nobody decides
        their own request)."""
        Outbox.enqueue(tx, now, OutboxKind.APPROVAL_NOTICE, approval.chat_id, ref=approval.id)
        approvers = dict.fromkeys([*self.supervisor_chats, *Roster.deciders(tx)])
        for chat in approvers:
            if chat not in (approval.cashier_id, approval.chat_id):
                Outbox.enqueue(tx, now, OutboxKind.APPROVAL_REQUEST, chat, ref=approval.id)

    @staticmethod
    def approval_expires_soon(tx: Tx, now: datetime, approval: Approval) -> None:
        """One reminder in every chat that has the request's card (in reply to it)."""
        for chat in Approvals.card_chats(tx, approval.id):
            if chat not in (approval.cashier_id, approval.chat_id):
                Outbox.enqueue(tx, now, OutboxKind.APPROVAL_REMINDER, chat, ref=approval.id)

    def approval_closed(
        self, tx: Tx, now: datetime, approval: Approval, state: ApprovalState
    ) -> None:
        """Every card shows the outcome; the cashier hears it unless it was approved (then
        the card becomes the payment's status message)."""
        for chat in Approvals.card_chats(tx, approval.id):
            Outbox.enqueue(tx, now, OutboxKind.APPROVAL_CARD, chat, ref=approval.id)
        if state is not ApprovalState.APPROVED:
            self.approval_notice(tx, now, approval.id, approval.chat_id)

    @staticmethod
    def approval_notice(tx: Tx, now: datetime, approval_id: str, chat_id: int) -> None:
        Outbox.enqueue(tx, now, OutboxKind.APPROVAL_NOTICE, chat_id, ref=approval_id)

    @staticmethod
    def handover_declared(
        tx: Tx, now: datetime, handover: Handover, receivers: Iterable[int]
    ) -> None:
        """Each receiver (the chosen supervisor, or every active one) gets a card with the
        buttons: received / another amount / not received."""
        for chat in dict.fromkeys(receivers):
            Outbox.enqueue(tx, now, OutboxKind.HANDOVER_REQUEST, chat, ref=str(handover.id))

    def handover_answered(self, tx: Tx, now: datetime, handover: Handover) -> None:
        """Every card shows the answer; the cashier hears it."""
        for chat in Handovers.card_chats(tx, handover.id):
            Outbox.enqueue(tx, now, OutboxKind.HANDOVER_CARD, chat, ref=str(handover.id))
        self.handover_told(tx, now, handover)

    @staticmethod
    def handover_told(tx: Tx, now: datetime, handover: Handover) -> None:
        """The cashier hears what became of their handover (if they declared it in chat)."""
        if handover.chat_id is not None:
            Outbox.enqueue(
                tx, now, OutboxKind.HANDOVER_NOTICE, handover.chat_id, ref=str(handover.id)
            )

    def menu_button(self, tx: Tx, now: datetime, user_id: int, *, grant: bool = True) -> bool:
        """The person's menu button is to follow their role as it is when it is delivered:
        the desk's for an active supervisor or admin, Telegram's default for anyone else.
        ``grant``: queued because they have the desk now (its ref is the desk's), or because
        they lost it (:data:`MENU_OFF`). Only with the desk; returns whether anything was
        queued (wake the outbox)."""
        if self.menu_ref is None:
            return False
        ref = self.menu_ref if grant else MENU_OFF
        Outbox.enqueue(tx, now, OutboxKind.MENU_BUTTON, user_id, ref=ref)
        return True

    def menu_button_if_missing(self, tx: Tx, now: datetime, person: StaffUser) -> bool:
        """The person's desk button, unless their last one (queued or delivered) was for
        this address."""
        if self.menu_ref is None or not person.has_desk:
            return False
        last = Outbox.last_refs(tx, OutboxKind.MENU_BUTTON, person.user_id)
        if last.get(person.user_id) == self.menu_ref:
            return False
        return self.menu_button(tx, now, person.user_id)

    @staticmethod
    def desk_buttons_left(tx: Tx) -> bool:
        """Whether some chat's last menu button was a desk's."""
        refs = Outbox.last_refs(tx, OutboxKind.MENU_BUTTON).values()
        return any(ref.startswith(DESK_REF) for ref in refs)

    def menu_buttons_at_start(self, tx: Tx, now: datetime, roster: Iterable[StaffUser]) -> int:
        """With the desk: everyone on the roster who has it and whose last button (queued,
        or delivered — not refused) was not for this address: a second start, or a storm
        of restarts, queues nothing more; a new address, or the desk back after it was
        off, sets them again; a person Telegram refused (one who never opened the bot) is
        tried again. Without it: a reset for every chat whose last button was a desk's
        (the desk turned off leaves no button opening nothing), and nothing at all where
        there never was a desk. Returns how many were queued (wake the outbox)."""
        last = Outbox.last_refs(tx, OutboxKind.MENU_BUTTON)
        if self.menu_ref is None:
            chats = [chat for chat, ref in last.items() if ref.startswith(DESK_REF)]
            ref = MENU_OFF
        else:
            chats = [
                p.user_id for p in roster if p.has_desk and last.get(p.user_id) != self.menu_ref
            ]
            ref = self.menu_ref
        for chat in chats:
            Outbox.enqueue(tx, now, OutboxKind.MENU_BUTTON, chat, ref=ref)
        return len(chats)

    def digest(self, tx: Tx, now: datetime, day: date) -> None:
        for chat in self.supervisor_chats:
            Outbox.enqueue(tx, now, OutboxKind.DIGEST, chat, ref=day.isoformat())

    def balance(self, tx: Tx, now: datetime, alert: BalanceAlert) -> None:
        """The agent's balance fell below the mark, or is back: every supervisor chat and
        every active supervisor and admin in private (as approval requests go)."""
        for chat in dict.fromkeys([*self.supervisor_chats, *Roster.deciders(tx)]):
            Outbox.enqueue(tx, now, OutboxKind.BALANCE, chat, ref=alert.to_ref())
