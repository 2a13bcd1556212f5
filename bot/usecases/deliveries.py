"""What the outbox's delivery needs of the journal, each step one trip: the due items of a
chat with the payments and names they show, and the marks of what was delivered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from bot.domain.clock import utcnow
from bot.domain.model import OutboxItem, OutboxKind, Payment
from bot.domain.reports import Summary, day_bounds, summarize
from bot.store.db import Database, Tx
from bot.store.outbox import Outbox
from bot.store.payments import Payments
from bot.store.roster import Roster

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Due:
    items: list[OutboxItem]
    payments: dict[str, Payment]  # of the items' GUIDs
    held: set[str]  # GUIDs whose cashier's status message is still on its way
    names: dict[int, str]


class Deliveries:
    def __init__(
        self,
        db: Database,
        tz: tzinfo,
        *,
        instance: str = "local",
        claim: float = 120.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.tz = tz
        #: This process, as the outbox's claims name it; a chat's due items are claimed for
        #: ``claim`` seconds at every step of its lane (so another process leaves the chat
        #: alone meanwhile, and takes it over once a dead one's claim runs out).
        self.instance = instance
        self.claim = timedelta(seconds=claim)
        self._clock = clock

    async def due_chats(self, now: datetime) -> dict[int, set[OutboxKind]]:
        return await self.db.read(lambda tx: Outbox.due_chats(tx, now, self.instance))

    async def next_at(self, busy_chats: Iterable[int]) -> datetime | None:
        busy, now = list(busy_chats), self._clock()
        return await self.db.read(lambda tx: Outbox.next_at(tx, busy, self.instance, now))

    async def keep(self, chat_id: int) -> None:
        """While a lane works (a Bot API call may wait minutes in the pacer, a long feed goes
        out at a group's pace), its chat stays claimed: renewed at a third of the claim,
        until cancelled."""
        while True:
            await asyncio.sleep(self.claim.total_seconds() / 3)
            try:
                await self._renew(chat_id, self._clock() + self.claim)
            except Exception:  # the next renewal tries again; the lane goes on
                log.exception("outbox: could not renew the claim of chat %d", chat_id)

    async def due(self, chat_id: int, now: datetime, limit: int) -> Due:
        """The chat's due items, claimed for this process (none if another holds the chat),
        with the payments and names they show: one trip."""

        def due(tx: Tx) -> Due:
            until = now + self.claim
            items = Outbox.claim_chat(tx, now, chat_id, self.instance, until, limit)
            guids = list(dict.fromkeys(i.guid for i in items if i.guid))
            finals = [i.guid for i in items if i.kind is OutboxKind.FINAL and i.guid]
            payments = Payments.many(tx, guids)
            names = Roster.names(tx) if payments else {}
            return Due(items, payments, Outbox.undelivered_status(tx, finals), names)

        return await self.db.write(due, durable=False)

    async def _renew(self, chat_id: int, until: datetime) -> None:
        await self.db.write(
            lambda tx: Outbox.renew(tx, chat_id, self.instance, until), durable=False
        )

    async def release_claims(self) -> int:
        """Let go of this process's chats: at start (claims from before a crash) and stop."""
        return await self.db.write(lambda tx: Outbox.release_all(tx, self.instance))

    async def done(self, item_ids: Iterable[int], failed: str | None = None) -> None:
        ids, now = list(item_ids), self._clock()
        await self.db.write(lambda tx: Outbox.done(tx, now, ids, failed), durable=False)

    async def status_done(
        self, item_ids: Iterable[int], payment: Payment, message_id: int | None
    ) -> None:
        """The status message is delivered (as ``message_id`` when sent anew)."""
        ids, now = list(item_ids), self._clock()

        def done(tx: Tx) -> None:
            if message_id is not None:
                Payments.set_message(tx, payment.guid, payment.chat_id, message_id)
            Outbox.done(tx, now, ids)

        await self.db.write(done, durable=False)

    async def retry(self, error: str, delay: float, item_ids: Iterable[int]) -> None:
        ids, now = list(item_ids), self._clock()
        await self.db.write(lambda tx: Outbox.retry(tx, now, error, delay, ids), durable=False)

    async def later(self, delay: float, item_ids: Iterable[int]) -> None:
        ids, now = list(item_ids), self._clock()
        await self.db.write(lambda tx: Outbox.later(tx, now, delay, ids), durable=False)

    async def progress(self, item_id: int, parts: int) -> None:
        await self.db.write(lambda tx: Outbox.progress(tx, item_id, parts), durable=False)

    async def digest(self, day: date) -> tuple[Summary, dict[int, str], int]:
        """The day's totals per cashier, names, and how many payments lack a final answer."""
        start, end = day_bounds(day, day, self.tz)

        def digest(tx: Tx) -> tuple[Summary, dict[int, str], int]:
            summary = summarize(Payments.totals(tx, start, end))
            return summary, Roster.names(tx), len(Payments.unresolved(tx))

        return await self.db.read(digest)
