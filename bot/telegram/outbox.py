"""Delivers the journal's outbox to Telegram: cashiers' status messages and supervisors' news.

Delivery runs in **lanes**, one per chat: concurrent across chats (at most ``concurrency`` at
once), in order within a chat, so a chat waiting out a 429 never delays another. Within a
chat the most urgent kind goes first (a cashier's status, then approval cards, stuck alerts,
and the feed), and the Bot API calls carry that urgency to the pacing layer
(:mod:`bot.telegram.pacing`), which serves the bot-wide budget by it.

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
from datetime import date, datetime, timedelta, tzinfo

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardMarkup, ReplyParameters
from aiogram.utils.i18n import I18n

from bot.domain.clock import utcnow
from bot.domain.model import ApprovalState, OutboxItem, OutboxKind, Payment
from bot.logs import describe_error
from bot.loops import BackgroundLoop
from bot.outage import PartDown
from bot.telegram import texts
from bot.telegram.keyboards import (
    approval_keyboard,
    final_keyboard,
    handover_card_keyboard,
    handover_notice_keyboard,
    withdraw_keyboard,
)
from bot.telegram.pacing import Lane, current_lane
from bot.usecases.approvals import ApprovalDesk
from bot.usecases.cash import CashDesk
from bot.usecases.deliveries import Deliveries, Due
from bot.usecases.people import People

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
FEED_HOLD = 0.5  # seconds a feed item waits for its payment's status message to go out
#: A final status this long after the confirm tap also comes as a new, notifying message.
LATE_FINAL = timedelta(minutes=1)
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
    OutboxKind.FINAL: Lane.FEED,
    OutboxKind.DIGEST: Lane.FEED,
}
_APPROVAL_KINDS = (
    OutboxKind.APPROVAL_REQUEST,
    OutboxKind.APPROVAL_CARD,
    OutboxKind.APPROVAL_NOTICE,
    OutboxKind.APPROVAL_REMINDER,
)
_HANDOVER_KINDS = (
    OutboxKind.HANDOVER_REQUEST,
    OutboxKind.HANDOVER_CARD,
    OutboxKind.HANDOVER_NOTICE,
)


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
    ) -> None:
        super().__init__(clock=clock, idle=idle)
        self.bot = bot
        self.deliveries = deliveries
        self.people = people
        self.desk = desk
        self.cash = cash
        self.i18n = i18n
        self.tz = tz
        #: The embedded sandbox answers: statuses and cards say no real money moves.
        self.sandbox = sandbox
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
            if item.kind is OutboxKind.FINAL:
                await self._feed(batch, due)  # marks each part's items delivered as it goes
                return True
            if item.kind is OutboxKind.DIGEST:
                await self._digest(item)
            elif item.kind in _APPROVAL_KINDS:
                await self._approval(item)
            elif item.kind in _HANDOVER_KINDS:
                await self._handover(item)
            else:
                payment = due.payments.get(item.guid or "")
                if payment is None:
                    await self.deliveries.done(ids, failed="payment not found")
                    return True
                if item.kind is OutboxKind.STATUS:
                    await self._status(ids, payment)
                    return True
                await self._alert(item, payment, due.names)
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

    async def _language(self, chat_id: int, fallback: str | None = None) -> str:
        return await self.people.language(chat_id) or fallback or self.i18n.default_locale

    async def _status(self, ids: list[int], payment: Payment) -> None:
        lang = await self._language(payment.cashier_id, payment.lang)
        with self.i18n.context(), self.i18n.use_locale(lang):
            text = texts.status_text(payment, self.tz, sandbox=self.sandbox)
            markup = final_keyboard(payment)
            late = texts.late_final(payment) if _late(payment) else None
        sent, changed = await self._show(payment.chat_id, payment.message_id, text, markup)
        # Only the delivery that shows the final status tells anew: an earlier item retried
        # later finds the message already final ("not modified") and says nothing more.
        if late is not None and sent is None and changed and payment.message_id is not None:
            # An edit makes no sound: a cashier who left the chat after ⏳ is told anew,
            # in a short message that points at the card.
            await self._ring(payment.chat_id, payment.message_id, late)
        log.debug("outbox %s: status delivered to chat %d", ids, payment.chat_id)
        await self.deliveries.status_done(ids, payment, sent)

    async def _ring(self, chat_id: int, message_id: int, text: str) -> None:
        """A short message in reply to one just edited: an edit makes no sound."""
        await self.bot.send_message(
            chat_id=chat_id,
            text=text,
            reply_parameters=ReplyParameters(
                message_id=message_id, allow_sending_without_reply=True
            ),
        )

    @staticmethod
    def _cashier_name(payment: Payment, names: dict[int, str]) -> str:
        return names.get(payment.cashier_id) or str(payment.cashier_id)

    async def _alert(self, item: OutboxItem, payment: Payment, names: dict[int, str]) -> None:
        lang = await self._language(item.chat_id)
        with self.i18n.context(), self.i18n.use_locale(lang):
            text = texts.supervisor_alert(
                payment, self._cashier_name(payment, names), self._clock()
            )
        await self.bot.send_message(chat_id=item.chat_id, text=text)

    async def _feed(self, batch: Sequence[OutboxItem], due: Due) -> None:
        """Final payments for one supervisor chat: one message listing them all (in parts
        of at most 4096 characters; each part's items are marked delivered as it goes)."""
        lines: list[tuple[int, str]] = []
        missing: list[int] = []
        for item in batch:
            payment = due.payments.get(item.guid or "")
            if payment is None:
                missing.append(item.id)
                continue
            name = self._cashier_name(payment, due.names)
            lines.append((item.id, texts.feed_line(payment, name)))
        if missing:
            await self.deliveries.done(missing, failed="payment not found")
        part: list[tuple[int, str]] = []
        size = 0
        for entry in lines:
            if part and size + len(entry[1]) + 1 > texts.TELEGRAM_TEXT_LIMIT:
                await self._send_feed_part(batch[0].chat_id, part)
                part, size = [], 0
            part.append(entry)
            size += len(entry[1]) + 1
        if part:
            await self._send_feed_part(batch[0].chat_id, part)

    async def _send_feed_part(self, chat_id: int, part: Sequence[tuple[int, str]]) -> None:
        text = "\n".join(line for _id, line in part)
        await self.bot.send_message(chat_id=chat_id, text=text[: texts.TELEGRAM_TEXT_LIMIT])
        await self.deliveries.done(item_id for item_id, _line in part)

    async def _approval(self, item: OutboxItem) -> None:
        """The cashier's notice (edited), a supervisor's card (sent, or edited to its
        decision), or the one reminder before expiry (in reply to the card). Buttons only
        where they may be pressed: on a waiting card, never in the requester's own chat."""
        approval, card, names = await self.desk.view(item.ref or "", item.chat_id)
        if approval is None:
            return
        notice = item.kind is OutboxKind.APPROVAL_NOTICE
        waiting = approval.state is ApprovalState.WAITING
        if item.kind is OutboxKind.APPROVAL_REMINDER and not waiting:
            return  # decided meanwhile: nothing to remind of
        lang = await self._language(approval.cashier_id if notice else item.chat_id)
        own = item.chat_id in (approval.cashier_id, approval.chat_id)
        with self.i18n.context(), self.i18n.use_locale(lang):
            if notice:
                text = texts.approval_notice(approval, names, self.tz, sandbox=self.sandbox)
                markup = withdraw_keyboard(approval.id) if waiting else None
            elif item.kind is OutboxKind.APPROVAL_REMINDER:
                text = texts.approval_reminder(approval, names, self.tz)
                markup = None
            else:
                text = texts.approval_card(approval, names, self.tz, sandbox=self.sandbox)
                markup = approval_keyboard(approval.id) if waiting and not own else None
        if notice:
            await self._edit_or_send(approval.chat_id, approval.message_id, text, markup)
        elif item.kind is OutboxKind.APPROVAL_REMINDER:
            await self.bot.send_message(
                chat_id=item.chat_id,
                text=text,
                reply_parameters=(
                    ReplyParameters(message_id=card, allow_sending_without_reply=True)
                    if card is not None
                    else None
                ),
            )
        elif item.kind is OutboxKind.APPROVAL_CARD:
            if card is not None:
                await self._edit_or_send(item.chat_id, card, text, markup)
        else:
            sent = await self.bot.send_message(chat_id=item.chat_id, text=text, reply_markup=markup)
            now = await self.desk.card_sent(approval.id, item.chat_id, sent.message_id)
            # Decided while this card was on its way: show the decision, not live buttons.
            if now is not None and now.state is not ApprovalState.WAITING and waiting:
                with self.i18n.context(), self.i18n.use_locale(lang):
                    decided = texts.approval_card(now, names, self.tz, sandbox=self.sandbox)
                await self._edit_or_send(item.chat_id, sent.message_id, decided, None)

    async def _handover(self, item: OutboxItem) -> None:
        """A supervisor's card (sent, or edited to its answer) or the cashier's notice."""
        handover_id = int(item.ref or 0)
        handover, card, names = await self.cash.view(handover_id, item.chat_id)
        if handover is None:
            return
        notice = item.kind is OutboxKind.HANDOVER_NOTICE
        lang = await self._language(handover.cashier_id if notice else item.chat_id)
        with self.i18n.context(), self.i18n.use_locale(lang):
            news = texts.handover_news(handover, names) if notice else None
            if notice:
                text = texts.handover_notice(handover, names, self.tz)
                markup = handover_notice_keyboard(handover)
            else:
                text = texts.handover_card(handover, names, self.tz)
                markup = handover_card_keyboard(handover)
        if notice:
            # The declaration message becomes the handover as it is now (its "withdraw"
            # button goes once answered); a message that cannot be edited is sent anew.
            anew, changed = await self._show(item.chat_id, handover.message_id, text, markup)
            if news is not None and anew is None and changed and handover.message_id is not None:
                # An edit makes no sound: someone else's answer is told in a short reply
                # to it (only by the delivery that changed it: a retry tells nothing twice).
                await self._ring(item.chat_id, handover.message_id, news)
        elif item.kind is OutboxKind.HANDOVER_CARD:
            if card is not None:
                await self._edit_or_send(item.chat_id, card, text, markup)
        else:
            sent = await self.bot.send_message(chat_id=item.chat_id, text=text, reply_markup=markup)
            now = await self.cash.card_sent(handover.id, item.chat_id, sent.message_id)
            # Answered while this card was on its way: show the answer, not live buttons.
            if now is not None and now.state is not handover.state and markup is not None:
                with self.i18n.context(), self.i18n.use_locale(lang):
                    answered = texts.handover_card(now, names, self.tz)
                await self._edit_or_send(item.chat_id, sent.message_id, answered, None)

    async def _edit_or_send(
        self, chat_id: int, message_id: int | None, text: str, markup: InlineKeyboardMarkup | None
    ) -> int | None:
        """Edit the message; a message that cannot be edited is sent anew (its id returned)."""
        sent, _changed = await self._show(chat_id, message_id, text, markup)
        return sent

    async def _show(
        self, chat_id: int, message_id: int | None, text: str, markup: InlineKeyboardMarkup | None
    ) -> tuple[int | None, bool]:
        """:meth:`_edit_or_send`, and whether the chat now shows something it did not
        (False: the message already said exactly this)."""
        if message_id is not None:
            try:
                await self.bot.edit_message_text(
                    text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup
                )
                return None, True
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    return None, False
                if not _edit_impossible(exc.message):
                    raise
            except TelegramNotFound:
                pass
        sent = await self.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
        return sent.message_id, True

    async def _digest(self, item: OutboxItem) -> None:
        """The day's totals, in as many parts as it takes; a retry resumes at the part that
        failed (``progress``), so no part is sent twice."""
        day = date.fromisoformat(item.ref or "")
        summary, names, unresolved = await self.deliveries.digest(day)
        cash = await self.cash.day(day)
        lang = await self._language(item.chat_id)
        with self.i18n.context(), self.i18n.use_locale(lang):
            text = texts.digest_text(day, summary, names, unresolved, cash, self.tz)
        parts = texts.chunks(text.split("\n"))
        for number, part in enumerate(parts[item.progress :], start=item.progress + 1):
            await self.bot.send_message(chat_id=item.chat_id, text=part)
            if number < len(parts):
                await self.deliveries.progress(item.id, number)


def _late(payment: Payment) -> bool:
    """A final answer more than :data:`LATE_FINAL` after the confirm tap."""
    return (
        payment.status.is_final
        and payment.final_at is not None
        and payment.final_at - payment.created_at > LATE_FINAL
    )


def _edit_impossible(message: str) -> bool:
    lowered = message.lower()
    return any(
        phrase in lowered
        for phrase in ("message to edit not found", "message can't be edited", "message_id_invalid")
    )
