"""The daily digest and the balance watch's alerts, as the outbox delivers them to the
supervisors' chats."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile

from bot.domain.balance import BalanceAlert
from bot.domain.model import OutboxItem
from bot.infra.logs import describe_error
from bot.telegram.reports.chart import ChartText, chart_text, draw_day
from bot.telegram.reports.texts import balance_alert_text, digest_text
from bot.telegram.shared.delivery import Delivery
from bot.telegram.shared.texts import chunks
from bot.usecases.deliveries import Due

log = logging.getLogger(__name__)


async def deliver_digest(delivery: Delivery, batch: Sequence[OutboxItem], due: Due) -> bool:
    """The day's totals, in as many parts as it takes, and where no desk is served the day's
    chart as their last part; a retry resumes at the part that failed (``progress``: the
    parts delivered, recorded after each but the last), so no part is sent twice — the
    picture neither: it is the last, so an item still due has not delivered it."""
    item = batch[0]
    day = date.fromisoformat(item.ref or "")
    summary, names, unresolved = await delivery.deliveries.digest(day)
    cash = await delivery.cash.day(day)
    lang = await delivery.language(item.chat_id)
    charted = delivery.desk_url is None and delivery.dashboard is not None
    with delivery.speaking(lang):
        text = digest_text(day, summary, names, unresolved, cash, delivery.tz)
        shown = chart_text(day, delivery.tz) if charted else None
    parts = chunks(text.split("\n"))
    total = len(parts) + (shown is not None)
    for number, part in enumerate(parts[item.progress :], start=item.progress + 1):
        await delivery.bot.send_message(chat_id=item.chat_id, text=part)
        if number < total:
            await delivery.deliveries.progress(item.id, number)
    if shown is not None:
        await _send_chart(delivery, item, day, shown)
    return False


async def _send_chart(delivery: Delivery, item: OutboxItem, day: date, shown: ChartText) -> None:
    """The digest's last part: the day's chart. One that cannot be drawn, or that Telegram
    refuses, is logged and left out (the text went); a failed read or upload raises, and the
    retry sends the picture alone."""
    assert delivery.dashboard is not None
    png = await draw_day(delivery.dashboard, day, shown.words)
    if png is None:
        return
    photo = BufferedInputFile(png, filename=f"chart-{day:%Y-%m-%d}.png")
    try:
        await delivery.bot.send_photo(chat_id=item.chat_id, photo=photo, caption=shown.caption)
    except TelegramBadRequest as exc:
        log.warning("outbox %d: the digest's chart was refused (%s)", item.id, describe_error(exc))


async def deliver_balance(delivery: Delivery, batch: Sequence[OutboxItem], due: Due) -> bool:
    """The balance fell below the mark, or is back: the figures kept with the message."""
    item = batch[0]
    alert = BalanceAlert.from_ref(item.ref or "")
    lang = await delivery.language(item.chat_id)
    with delivery.speaking(lang):
        text = balance_alert_text(alert, delivery.tz, delivery.sandbox)
    await delivery.bot.send_message(chat_id=item.chat_id, text=text)
    return False
