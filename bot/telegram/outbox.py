"""Delivers the journal's outbox to Telegram: cashiers' status messages and supervisors' news.

Telegram's 429 ``retry_after`` is honoured (aiogram does not retry by itself); 5xx and network
errors are retried with backoff; an edit that cannot be made becomes a new message; a user who
blocked the bot is recorded as a failed delivery and logged — nothing is dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, tzinfo

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from bot.loops import BackgroundLoop
from bot.payments.controls import ApprovalState, Controls, Limits
from bot.payments.db import utcnow
from bot.payments.journal import Journal, OutboxItem, OutboxKind, Payment, Status
from bot.payments.reports import day_bounds, summarize
from bot.telegram import texts
from bot.telegram.keyboards import approval_keyboard, receipt_keyboard

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0


class OutboxWorker(BackgroundLoop):
    name = "outbox"

    def __init__(
        self,
        bot: Bot,
        journal: Journal,
        i18n: I18n,
        tz: tzinfo,
        *,
        controls: Controls | None = None,
        clock: Callable[[], datetime] = utcnow,
        idle: float = 30.0,
    ) -> None:
        super().__init__(clock=clock, idle=idle)
        self.bot = bot
        self.journal = journal
        self.controls = controls or Controls(journal, Limits())
        self.i18n = i18n
        self.tz = tz
        self.retry_after_count = 0

    async def next_due(self) -> datetime | None:
        return await self.journal.next_outbox_at()

    async def run_once(self) -> int:
        return await self.deliver_due()

    async def deliver_due(self) -> int:
        items = await self.journal.due_outbox(self._clock())
        for item in items:
            await self._deliver(item)
        return len(items)

    async def _deliver(self, item: OutboxItem) -> None:
        payment = await self.journal.get_payment(item.guid) if item.guid else None
        if payment is None and item.kind in (OutboxKind.STATUS, OutboxKind.FINAL, OutboxKind.ALERT):
            await self.journal.outbox_done(item.id, failed="payment not found")
            return
        try:
            if item.kind is OutboxKind.DIGEST:
                await self._digest(item)
            elif item.kind in _APPROVAL_KINDS:
                await self._approval(item)
            elif payment is not None and item.kind is OutboxKind.STATUS:
                await self._status(payment)
            elif payment is not None:
                await self._supervisor(item, payment)
        except TelegramRetryAfter as exc:
            self.retry_after_count += 1
            log.warning("outbox %d: Telegram asks to wait %d s", item.id, exc.retry_after)
            await self.journal.outbox_retry(item.id, "429", float(exc.retry_after))
        except TelegramForbiddenError as exc:
            log.warning("outbox %d: cannot reach chat %d: %s", item.id, item.chat_id, exc.message)
            await self.journal.outbox_done(item.id, failed=exc.message)
        except Exception as exc:
            delay = min(MAX_BACKOFF, 2.0 ** min(item.attempts + 1, 10))
            log.warning("outbox %d: delivery failed (%s); retrying in %.0f s", item.id, exc, delay)
            await self.journal.outbox_retry(item.id, f"{type(exc).__name__}: {exc}", delay)
        else:
            log.debug("outbox %d: %s delivered to chat %d", item.id, item.kind.value, item.chat_id)
            await self.journal.outbox_done(item.id)

    async def _language(self, chat_id: int, fallback: str | None = None) -> str:
        return await self.journal.get_language(chat_id) or fallback or self.i18n.default_locale

    async def _status(self, payment: Payment) -> None:
        lang = await self._language(payment.cashier_id, payment.lang)
        with self.i18n.context(), self.i18n.use_locale(lang):
            text = texts.status_text(payment, self.tz)
            markup = receipt_keyboard([payment.guid] if payment.status is Status.COMPLETED else [])
        sent = await self._edit_or_send(payment.chat_id, payment.message_id, text, markup)
        if sent is not None:
            await self.journal.set_message(payment.guid, payment.chat_id, sent)

    async def _supervisor(self, item: OutboxItem, payment: Payment) -> None:
        staff = await self.journal.get_user(payment.cashier_id)
        cashier = f"{staff.name or payment.cashier_id}" if staff else str(payment.cashier_id)
        lang = await self._language(item.chat_id)
        with self.i18n.context(), self.i18n.use_locale(lang):
            if item.kind is OutboxKind.ALERT:
                text = texts.supervisor_alert(payment, cashier, self._clock())
            else:
                text = texts.supervisor_final(payment, cashier)
        await self.bot.send_message(chat_id=item.chat_id, text=text)

    async def _approval(self, item: OutboxItem) -> None:
        approval = await self.controls.get(item.ref or "")
        if approval is None:
            return
        names = await self.journal.names()
        lang = await self._language(item.chat_id)
        if item.kind is OutboxKind.APPROVAL_NOTICE:
            lang = await self._language(approval.cashier_id)
        with self.i18n.context(), self.i18n.use_locale(lang):
            if item.kind is OutboxKind.APPROVAL_NOTICE:
                text = texts.approval_notice(approval, names, self.tz)
                markup = None
            else:
                text = texts.approval_card(approval, names, self.tz)
                waiting = approval.state is ApprovalState.WAITING
                markup = approval_keyboard(approval.id) if waiting else None
        if item.kind is OutboxKind.APPROVAL_NOTICE:
            await self._edit_or_send(approval.chat_id, approval.message_id, text, None)
        elif item.kind is OutboxKind.APPROVAL_CARD:
            message_id = await self.controls.card_message(approval.id, item.chat_id)
            if message_id is not None:
                await self._edit_or_send(item.chat_id, message_id, text, markup)
        else:
            sent = await self.bot.send_message(chat_id=item.chat_id, text=text, reply_markup=markup)
            await self.controls.record_card(approval.id, item.chat_id, sent.message_id)
            # Decided while this card was on its way: show the decision, not live buttons.
            now = await self.controls.get(approval.id)
            if now is not None and now.state is not ApprovalState.WAITING and markup is not None:
                with self.i18n.context(), self.i18n.use_locale(lang):
                    decided = texts.approval_card(now, names, self.tz)
                await self._edit_or_send(item.chat_id, sent.message_id, decided, None)

    async def _edit_or_send(
        self, chat_id: int, message_id: int | None, text: str, markup: InlineKeyboardMarkup | None
    ) -> int | None:
        """Edit the message; a message that cannot be edited is sent anew (its id returned)."""
        if message_id is not None:
            try:
                await self.bot.edit_message_text(
                    text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup
                )
                return None
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    return None
                if not _edit_impossible(exc.message):
                    raise
            except TelegramNotFound:
                pass
        sent = await self.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
        return sent.message_id

    async def _digest(self, item: OutboxItem) -> None:
        day = date.fromisoformat(item.ref or "")
        start, end = day_bounds(day, day, self.tz)
        summary = summarize(await self.journal.totals(start, end))
        names = await self.journal.names()
        lang = await self._language(item.chat_id)
        with self.i18n.context(), self.i18n.use_locale(lang):
            text = texts.summary_text(texts.digest_title(day), summary, names, per_cashier=True)
            unresolved = await self.journal.unresolved()
            if unresolved:
                text += "\n\n" + texts.unresolved_note(len(unresolved))
        for part in texts.chunks(text.split("\n")):
            await self.bot.send_message(chat_id=item.chat_id, text=part)


_APPROVAL_KINDS = (
    OutboxKind.APPROVAL_REQUEST,
    OutboxKind.APPROVAL_CARD,
    OutboxKind.APPROVAL_NOTICE,
)


def _edit_impossible(message: str) -> bool:
    lowered = message.lower()
    return any(
        phrase in lowered
        for phrase in ("message to edit not found", "message can't be edited", "message_id_invalid")
    )
