"""Who may use the bot, and the one rule that ends a person's work.

Admins add, change, remove, block and unblock people; everyone chooses a language. The bot
never ends up without an admin, and ``ADMIN_IDS`` admins are changed only there
(:meth:`~bot.store.roster.Roster.guard`). Whatever ends a person's work — their /cancel,
/remove, /block — ends all of it through :meth:`People.end_work_in`.

With the desk (WEBAPP_URL), every change that gives or takes it — a supervisor or admin
added, removed, blocked, unblocked, made a cashier, or choosing another language (the
button's label) — queues their menu button in the same transaction
(:meth:`~bot.usecases.notices.Notices.menu_button`); :meth:`People.menu_buttons` queues the
roster's at start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.audit import AuditRename, AuditRole, AuditRoleChange
from bot.domain.clock import utcnow
from bot.domain.model import (
    ApprovalState,
    DraftState,
    Role,
    RosterChange,
    StaffUser,
    Status,
    WorkEnded,
)
from bot.store.approvals import Approvals
from bot.store.audit import AuditLog
from bot.store.db import Database, Tx
from bot.store.drafts import Drafts
from bot.store.handovers import Handovers
from bot.store.payments import Payments
from bot.store.roster import Roster
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.cash import CashDesk

log = logging.getLogger(__name__)

#: How far back /cancel looks for top-ups already sent, to say they cannot be cancelled.
RECENT = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Rename:
    """A person's name on the roster changed: ``before`` None when they had none."""

    before: str | None
    after: str


@dataclass(frozen=True, slots=True)
class RoleChange:
    """What ``/add_cashier`` or ``/add_supervisor`` did: to the role (ADDED, CHANGED,
    RENAMED — the role as it was —, UNCHANGED or a refusal), and to the name."""

    change: RosterChange
    rename: Rename | None = None


class People:
    def __init__(
        self,
        db: Database,
        roster: Roster,
        desk: ApprovalDesk,
        cash: CashDesk,
        *,
        configured_admins: Iterable[int] = (),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.roster = roster
        self.desk = desk
        self.cash = cash
        self.configured_admins = frozenset(configured_admins)
        self._clock = clock

    # ------------------------------------------------------------------ every update

    async def who(self, user_id: int) -> StaffUser | None:
        cached = self.roster.cached_user(user_id)
        if cached is not Roster.MISSING:
            return cached if isinstance(cached, StaffUser) else None
        return await self.db.read(lambda tx: self.roster.get(tx, user_id))

    async def language(self, user_id: int) -> str | None:
        cached = self.roster.cached_language(user_id)
        if cached is not Roster.MISSING:
            return cached if isinstance(cached, str) else None
        return await self.db.read(lambda tx: self.roster.language(tx, user_id))

    async def set_language(self, user_id: int, language: str) -> None:
        now = self._clock()
        notices = self.desk.notices

        def set_language(tx: Tx) -> bool:
            self.roster.set_language(tx, user_id, language)
            person = self.roster.get(tx, user_id) if notices.menu_ref is not None else None
            # The desk's button speaks their language.
            return person is not None and person.has_desk and notices.menu_button(tx, now, user_id)

        queued = await self.db.write(set_language, durable=False)
        self.roster.remember_language(user_id, language)
        if queued:
            notices.wake()

    async def name_unnamed(self, user_id: int, name: str) -> None:
        """Their Telegram name, if the admin gave them none."""
        await self.db.write(
            lambda tx: self.roster.rename(tx, user_id, name, only_if_unnamed=True), durable=False
        )

    # ------------------------------------------------------------------ the roster

    async def seed(
        self, admins: Iterable[int], supervisors: Iterable[int], cashiers: Iterable[int]
    ) -> None:
        """Apply the configured ids at start-up.

        ``ADMIN_IDS`` are always admins (the way back in if the roster is ever broken).
        ``SUPERVISOR_IDS`` and ``CASHIER_IDS`` only seed people the roster has never seen:
        after that, the roster managed in chat (/add_cashier, /remove...) is the truth.
        """
        admin_ids = list(dict.fromkeys(admins))
        others: dict[int, Role] = {}
        for ids, role in ((cashiers, Role.CASHIER), (supervisors, Role.SUPERVISOR)):
            for user_id in ids:
                if user_id not in admin_ids:
                    others[user_id] = role
        now = self._clock()

        def seed(tx: Tx) -> None:
            for user_id, role in self.roster.seed(tx, now, admin_ids, others):
                AuditLog.add(tx, now, None, "roster.seed", str(user_id), AuditRole(role))

        await self.db.write(seed)

    async def menu_buttons(self) -> int:
        """At start: the menu button of everyone on the roster who has the desk and whose
        last one was not for this address; without the desk, the reset of those whose last
        one was a desk's (:meth:`Notices.menu_buttons_at_start`)."""
        notices = self.desk.notices
        if notices.menu_ref is None and not await self.db.read(notices.desk_buttons_left):
            return 0  # no desk, and none was ever set: not even a write
        now = self._clock()
        queued = await self.db.write(
            lambda tx: notices.menu_buttons_at_start(tx, now, Roster.listing(tx))
        )
        if queued:
            notices.wake()
        return queued

    async def menu_button_on_start(self, user_id: int) -> bool:
        """Their /start in a private chat: a person with the desk whose last menu button was
        not for this address — refused, most likely because they had never opened the
        bot — gets it queued again (:meth:`Notices.menu_button_if_missing`)."""
        notices = self.desk.notices
        if notices.menu_ref is None:
            return False
        now = self._clock()

        def again(tx: Tx) -> bool:
            person = self.roster.get(tx, user_id)
            return person is not None and notices.menu_button_if_missing(tx, now, person)

        queued = await self.db.write(again, durable=False)
        if queued:
            notices.wake()
        return queued

    async def listing(self) -> list[StaffUser]:
        return await self.db.read(Roster.listing)

    async def names(self) -> dict[int, str]:
        return await self.db.read(Roster.names)

    async def set_role(
        self, actor_id: int, user_id: int, role: Role, name: str | None = None
    ) -> RoleChange:
        """Add someone to the roster with ``role``, or change their role; a name given
        replaces theirs. Each change is audited: the role's and the name's."""
        now = self._clock()

        def set_role(tx: Tx) -> RoleChange:
            current = self.roster.get(tx, user_id)
            before = current.role if current is not None else None
            # A name over another one (or over none) on the roster; a newcomer's is part
            # of their addition.
            rename = None
            if current is not None and name is not None and name != current.name:
                rename = Rename(current.name, name)
            if before is role:
                if rename is None:
                    return RoleChange(RosterChange.UNCHANGED)
                self.roster.rename(tx, user_id, rename.after, now=now)
                self._audit_rename(tx, now, actor_id, user_id, rename)
                return RoleChange(RosterChange.RENAMED, rename)
            if before is not None:
                refusal = Roster.guard(tx, user_id, before, self.configured_admins)
                if refusal is not None:
                    return RoleChange(refusal)
            self.roster.set_role(tx, now, user_id, role, name)
            had_desk = before is not None and before.sees_everyone
            if had_desk != role.sees_everyone:  # given the desk, or made a cashier
                self.desk.notices.menu_button(tx, now, user_id, grant=role.sees_everyone)
            change = RosterChange.CHANGED if before is not None else RosterChange.ADDED
            detail = AuditRoleChange(before, role) if before is not None else AuditRole(role)
            AuditLog.add(tx, now, actor_id, f"roster.{change.value}", str(user_id), detail)
            if rename is not None:
                self._audit_rename(tx, now, actor_id, user_id, rename)
            return RoleChange(change, rename)

        outcome = await self.db.write(set_role)
        if outcome.change in (RosterChange.ADDED, RosterChange.CHANGED):
            self.desk.notices.wake()  # a menu button, if one was queued
        return outcome

    @staticmethod
    def _audit_rename(tx: Tx, now: datetime, actor_id: int, user_id: int, rename: Rename) -> None:
        """The names as they were typed (shown the same in every language)."""
        detail = AuditRename(rename.before or None, rename.after)
        AuditLog.add(
            tx, now, actor_id, f"roster.{RosterChange.RENAMED.value}", str(user_id), detail
        )

    async def remove(self, actor_id: int, user_id: int) -> RosterChange:
        """Remove from the roster (soft: old payments keep the name) and end everything the
        person had open, in one step."""
        now = self._clock()

        def remove(tx: Tx) -> tuple[RosterChange, int]:
            user = self.roster.get(tx, user_id)
            if user is None:
                return RosterChange.NOT_FOUND, 0
            refusal = Roster.guard(tx, user_id, user.role, self.configured_admins)
            if refusal is not None:
                return refusal, 0
            self.roster.remove(tx, now, user_id)
            AuditLog.add(tx, now, actor_id, "roster.removed", str(user_id), AuditRole(user.role))
            notices = self.desk.notices
            button = user.role.sees_everyone and notices.menu_button(tx, now, user_id, grant=False)
            return RosterChange.REMOVED, self.end_work_in(tx, now, user_id, actor_id) + int(button)

        change, queued = await self.db.write(remove)
        if queued:
            self.desk.notices.wake()
        return change

    async def set_blocked(self, actor_id: int, user_id: int, blocked: bool) -> RosterChange:
        """Block: the next update is refused and the person's open work ends at once.
        Payments already sent are not touched: they still reach a final status."""
        now = self._clock()

        def set_blocked(tx: Tx) -> tuple[RosterChange, int]:
            user = self.roster.get(tx, user_id)
            if user is None:
                return RosterChange.NOT_FOUND, 0
            if user.blocked == blocked:
                return RosterChange.UNCHANGED, 0
            if blocked:
                refusal = Roster.guard(tx, user_id, user.role, self.configured_admins)
                if refusal is not None:
                    return refusal, 0
            self.roster.set_blocked(tx, now, user_id, blocked)
            change = RosterChange.BLOCKED if blocked else RosterChange.UNBLOCKED
            AuditLog.add(tx, now, actor_id, f"roster.{change.value}", str(user_id))
            notices = self.desk.notices
            button = user.role.sees_everyone and notices.menu_button(
                tx, now, user_id, grant=not blocked
            )
            ended = self.end_work_in(tx, now, user_id, actor_id) if blocked else 0
            return change, ended + int(button)

        change, queued = await self.db.write(set_blocked)
        if queued:
            self.desk.notices.wake()
        return change

    # ------------------------------------------------------------------ ending work

    def end_work_in(self, tx: Tx, now: datetime, user_id: int, actor_id: int) -> int:
        """The one rule for whatever ends a person's work — their /cancel, /remove, /block:
        their unfinished drafts close, their approval requests still waiting are
        cancelled, so no supervisor can approve them afterwards, and their cash handover
        still waiting is withdrawn (the cash stays on their hand, where a supervisor can
        record its handover on their behalf); the supervisors' cards and the person's own
        card say so (through the outbox, in this transaction). Payments already sent are
        not touched: they still reach Allpay's final word. Returns how many requests and
        handovers were ended (each queued messages: wake the outbox after the commit)."""
        Drafts.cancel_unfinished(tx, now, user_id)
        cancelled = 0
        for approval in Approvals.waiting(tx, cashier_id=user_id):
            cancelled += self.desk.close_in(tx, now, approval, ApprovalState.CANCELLED, actor_id)
        return cancelled + self.cash.withdraw_in(tx, now, user_id, actor_id)

    async def end_work(self, user_id: int) -> WorkEnded:
        """The person's own /cancel: ends what can be ended and says what that was, and
        returns what cannot be — their top-ups of the last :data:`RECENT` already sent to
        Allpay and still without its final word — so the cashier is never told "nothing was
        sent" while money moved, nor alarmed by top-ups that are done."""
        now = self._clock()

        def end(tx: Tx) -> WorkEnded:
            drafts = Drafts.unfinished(tx, user_id)
            requests = len(Approvals.waiting(tx, cashier_id=user_id))
            handovers = len(Handovers.waiting(tx, user_id))
            self.end_work_in(tx, now, user_id, user_id)
            open_cards = [d for d in drafts if d.state is DraftState.OPEN]
            return WorkEnded(
                top_ups=len(drafts),
                cards=tuple(
                    (d.chat_id, d.card_message_id)
                    for d in open_cards
                    if d.card_message_id is not None
                ),
                cash_asked=bool(open_cards),
                requests=requests,
                handovers=handovers,
                unfinished=tuple(
                    p
                    for p in Payments.sent_since(tx, user_id, now - RECENT)
                    if p.status in (Status.NEW, Status.PENDING, Status.UNKNOWN)
                ),
            )

        ended = await self.db.write(end)
        if ended.requests or ended.handovers:
            self.desk.notices.wake()
        return ended
