"""The daily digest and the balance watch's alerts, as the outbox delivers them to the
supervisors' chats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.domain.balance import BalanceAlert
from bot.domain.model import OutboxItem
from bot.telegram.reports.texts import balance_alert_text, digest_text
from bot.telegram.shared.delivery import Delivery
from bot.telegram.shared.texts import chunks
from bot.usecases.deliveries import Due


async def deliver_digest(delivery: Delivery, batch: Sequence[OutboxItem], due: Due) -> bool:
    """The day's totals, in as many parts as it takes; a retry resumes at the part that
    failed (``progress``), so no part is sent twice."""
    item = batch[0]
    day = date.fromisoformat(item.ref or "")
    summary, names, unresolved = await delivery.deliveries.digest(day)
    cash = await delivery.cash.day(day)
    lang = await delivery.language(item.chat_id)
    with delivery.speaking(lang):
        text = digest_text(day, summary, names, unresolved, cash, delivery.tz)
    parts = chunks(text.split("\n"))
    for number, part in enumerate(parts[item.progress :], start=item.progress + 1):
        await delivery.bot.send_message(chat_id=item.chat_id, text=part)
        if number < len(parts):
            await delivery.deliveries.progress(item.id, number)
    return False


async def deliver_balance(delivery: Delivery, batch: Sequence[OutboxItem], due: Due) -> bool:
    """The balance fell below the mark, or is back: the figures kept with the message."""
    item = batch[0]
    alert = BalanceAlert.from_ref(item.ref or "")
    lang = await delivery.language(item.chat_id)
    with delivery.speaking(lang):
        text = balance_alert_text(alert, delivery.tz, delivery.sandbox)
    await delivery.bot.send_message(chat_id=item.chat_id, text=text)
    return False
