"""Delivers the journal's outbox to Telegram: cashiers' status messages and supervisors' news.

Each item is rendered and shown by the feature that owns its kind (:data:`RENDERERS`: a
payment's status, alert and feed are cash-in's, approval requests approvals', handovers
cash's, the digest and the balance watch's alerts reports'); this module runs the lanes,
retries and marks what was done.

Delivery runs in **lanes**, one per chat: concurrent across chats (at most ``concurrency`` at
once), in order within a chat, so a chat waiting out a 429 never delays another. Within a
chat the most urgent kind goes first (a cashier's status, then approval cards, stuck alerts,
and the feed), and the Bot API calls carry that urgency to the pacing layer
(:mod:`bot.telegram.runtime.pacing`), which serves the bot-wide budget by it.

Several final payments due for one supervisor chat go out as **one** message listing them
(split at Telegram's 4096 characters), so the feed fits a group's 20 messages a minute:
every final payment appears in every supervisor chat exactly once. A multi-part message that
fails halfway resumes at the part that failed. Status items of one payment are rendered
once, from the journal's current status.

The pacing layer waits out 429s and retries; 5xx and network errors are retried here with
backoff; an edit that cannot be made becomes a new message; a user who blocked the bot is
recorded as a failed delivery and logged — nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.utils.i18n import I18n

from bot.domain.clock import utcnow
from bot.domain.model import OutboxItem, OutboxKind
from bot.infra.logs import describe_error
from bot.infra.loops import BackgroundLoop
from bot.infra.outage import PartDown
from bot.telegram.approvals.notices import deliver_approval
from bot.telegram.cash.notices import deliver_handover
from bot.telegram.cashin.notices import deliver_alert, deliver_feed, deliver_status
from bot.telegram.reports.notices import deliver_balance, deliver_digest
from bot.telegram.roster.notices import deliver_menu_button
from bot.telegram.runtime.pacing import Lane, current_lane
from bot.telegram.shared.delivery import Delivery, Renderer
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.cash import CashDesk
from bot.usecases.dashboard import Dashboard
from bot.usecases.deliveries import Deliveries, Due
from bot.usecases.people import People

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
FEED_HOLD = 0.5  # seconds a feed item waits for its payment's status message to go out
LANE_OF = {
    OutboxKind.STATUS: Lane.STATUS,
    OutboxKind.APPROVAL_NOTICE: Lane.STATUS,
    OutboxKind.APPROVAL_REQUEST: Lane.APPROVAL,
    OutboxKind.APPROVAL_CARD: Lane.APPROVAL,
    OutboxKind.APPROVAL_REMINDER: Lane.APPROVAL,
    OutboxKind.HANDOVER_NOTICE: Lane.STATUS,
    OutboxKind.HANDOVER_REQUEST: Lane.APPROVAL,
    OutboxKind.HANDOVER_CARD: Lane.APPROVAL,
    OutboxKind.ALERT: Lane.ALERT,
    OutboxKind.BALANCE: Lane.ALERT,
    OutboxKind.FINAL: Lane.FEED,
    OutboxKind.DIGEST: Lane.FEED,
    OutboxKind.MENU_BUTTON: Lane.FEED,
}
#: Who renders each kind: the feature that owns it.
RENDERERS: dict[OutboxKind, Renderer] = {
    OutboxKind.STATUS: deliver_status,
    OutboxKind.ALERT: deliver_alert,
    OutboxKind.FINAL: deliver_feed,
    OutboxKind.APPROVAL_NOTICE: deliver_approval,
    OutboxKind.APPROVAL_REQUEST: deliver_approval,
    OutboxKind.APPROVAL_CARD: deliver_approval,
    OutboxKind.APPROVAL_REMINDER: deliver_approval,
    OutboxKind.HANDOVER_NOTICE: deliver_handover,
    OutboxKind.HANDOVER_REQUEST: deliver_handover,
    OutboxKind.HANDOVER_CARD: deliver_handover,
    OutboxKind.DIGEST: deliver_digest,
    OutboxKind.BALANCE: deliver_balance,
    OutboxKind.MENU_BUTTON: deliver_menu_button,
}


class OutboxWorker(BackgroundLoop):
    name = "outbox"

    def __init__(
        self,
        bot: Bot,
        deliveries: Deliveries,
        people: People,
        desk: ApprovalDesk,
        cash: CashDesk,
        i18n: I18n,
        tz: tzinfo,
        *,
        clock: Callable[[], datetime] = utcnow,
        idle: float = 30.0,
        concurrency: int = 16,
        sandbox: bool = False,
        desk_url: str | None = None,
        dashboard: Dashboard | None = None,
    ) -> None:
        super().__init__(clock=clock, idle=idle)
        self.deliveries = deliveries
        #: What the features' renderers are given.
        self.delivery = Delivery(
            bot, deliveries, people, desk, cash, i18n, tz, sandbox, clock, desk_url, dashboard
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._lanes: dict[int, asyncio.Task[None]] = {}

    async def next_due(self) -> datetime | None:
        # Chats with a running lane are that lane's business (it wakes the loop as it ends).
        return await self.deliveries.next_at(self._lanes)

    async def run_once(self) -> int:
        """Open a lane for every chat with something due that has none running."""
        due = await self.deliveries.due_chats(self._clock())
        # The most urgent chats first: they also get the free delivery slots first.
        order = sorted(due, key=lambda chat: min(LANE_OF[kind] for kind in due[chat]))
        opened = 0
        for chat_id in order:
            if chat_id not in self._lanes:
                self._lanes[chat_id] = asyncio.create_task(
                    self._lane(chat_id), name=f"outbox lane {chat_id}"
                )
                opened += 1
        return opened

    async def stop(self) -> None:
        await super().stop()  # no new lanes from here on
        while self._lanes:
            lanes = list(self._lanes.values())
            for lane in lanes:
                lane.cancel()
            await asyncio.wait(lanes, timeout=1.0)
            for chat_id, lane in list(self._lanes.items()):
                if lane.done():
                    del self._lanes[chat_id]

    async def _lane(self, chat_id: int) -> None:
        """Deliver one chat's due items, most urgent first, until none is due or one must
        wait for a retry (later items of the chat wait behind it)."""
        keeper = asyncio.create_task(self.deliveries.keep(chat_id), name=f"claim {chat_id}")
        try:
            async with self._slots:
                while True:
                    due = await self.deliveries.due(chat_id, self._clock(), 500)
                    items = await self._after_their_status(due)
                    if not items:
                        return
                    first = min(items, key=lambda i: (LANE_OF[i.kind], i.id))
                    batch = [first]
                    if first.kind in (OutboxKind.FINAL, OutboxKind.STATUS):
                        batch = [
                            i
                            for i in items
                            if i.kind is first.kind
                            and (first.kind is OutboxKind.FINAL or i.guid == first.guid)
                        ]
                    token = current_lane.set(LANE_OF[first.kind])
                    try:
                        delivered = await self._deliver(batch, due)
                    finally:
                        current_lane.reset(token)
                    if not delivered:
                        return
        except asyncio.CancelledError:
            raise
        except PartDown:
            pass  # the journal said so, once; the loop opens the lane again when it answers
        except Exception:
            log.exception("outbox lane for chat %d failed; it is retried", chat_id)
        finally:
            keeper.cancel()
            if self._lanes.get(chat_id) is asyncio.current_task():
                del self._lanes[chat_id]
            self.wakeup.set()  # items queued meanwhile get a lane

    async def _after_their_status(self, due: Due) -> list[OutboxItem]:
        """A payment reaches the supervisors' feed only after its cashier's status message:
        feed items whose status is still on its way wait a moment (they coalesce meanwhile)."""
        if not due.held:
            return due.items
        waiting = {i.id for i in due.items if i.kind is OutboxKind.FINAL and i.guid in due.held}
        await self.deliveries.later(FEED_HOLD, waiting)
        return [i for i in due.items if i.id not in waiting]

    async def _deliver(self, batch: Sequence[OutboxItem], due: Due) -> bool:
        """Deliver ``batch`` (items of one kind for one chat); False if it must wait."""
        item = batch[0]
        ids = [i.id for i in batch]
        try:
            if await RENDERERS[item.kind](self.delivery, batch, due):
                return True  # marked by its renderer
        except TelegramRetryAfter as exc:
            # The pacing layer gave up waiting for this one: the outbox waits instead.
            log.warning("outbox %d: Telegram asks to wait %d s", item.id, exc.retry_after)
            await self.deliveries.retry("429", float(exc.retry_after), ids)
            return False
        except TelegramForbiddenError as exc:
            log.warning("outbox %d: cannot reach chat %d: %s", item.id, item.chat_id, exc.message)
            await self.deliveries.done(ids, failed=exc.message)
            return True
        except PartDown:
            raise  # not this item's fault: the lane ends, its items wait for the journal
        except Exception as exc:
            delay = min(MAX_BACKOFF, 2.0 ** min(item.attempts + 1, 10))
            error = describe_error(exc)  # never Telegram's answer (a decode error has it)
            log.warning(
                "outbox %d: delivery failed (%s); retrying in %.0f s", item.id, error, delay
            )
            await self.deliveries.retry(error, delay, ids)
            return False
        log.debug("outbox %s: %s delivered to chat %d", ids, item.kind.value, item.chat_id)
        await self.deliveries.done(ids)
        return True
