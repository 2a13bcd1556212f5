"""/history and /today: what a cashier asks hours later ("did my top-up go through?")."""

from __future__ import annotations

import contextlib
from datetime import datetime, time, timedelta
from decimal import Decimal

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.allpay.protocol import mask_login
from bot.config import Settings
from bot.payments.db import utcnow
from bot.payments.journal import Journal, StaffUser, Status
from bot.payments.parsing import format_tenge
from bot.telegram.callbacks import HistoryCb
from bot.telegram.filters import MenuButton
from bot.telegram.keyboards import MENU_HISTORY, MENU_TODAY
from bot.telegram.texts import short_guid

router = Router(name="history")
PAGE_SIZE = 10


async def _history_page(
    journal: Journal, staff: StaffUser, settings: Settings, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    owner = None if staff.role.sees_everyone else staff.user_id
    payments, total = await journal.payments_page(owner, page * PAGE_SIZE, PAGE_SIZE)
    if total == 0:
        return _("No payments yet."), None
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    lines = [_("Payments, page {page} of {pages}:").format(page=page + 1, pages=pages), ""]
    for p in payments:
        line = (
            f"{p.created_at.astimezone(settings.tz):%d.%m %H:%M} {p.status.icon} "
            f"{format_tenge(p.amount)} · {mask_login(p.login)} · {short_guid(p.guid)}"
        )
        if owner is None:
            line += f" · {p.cashier_id}"
        lines.append(line)
    builder = InlineKeyboardBuilder()
    if page > 0:
        builder.button(text="◀️", callback_data=HistoryCb(page=page - 1))
    if page + 1 < pages:
        builder.button(text="▶️", callback_data=HistoryCb(page=page + 1))
    markup = builder.as_markup()
    return "\n".join(lines), markup if markup.inline_keyboard else None


@router.message(Command("history"))
@router.message(MenuButton(MENU_HISTORY))
async def history(message: Message, staff: StaffUser, journal: Journal, settings: Settings) -> None:
    text, markup = await _history_page(journal, staff, settings, 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(HistoryCb.filter())
async def history_page(
    callback: CallbackQuery,
    callback_data: HistoryCb,
    staff: StaffUser,
    journal: Journal,
    settings: Settings,
) -> None:
    await callback.answer()
    text, markup = await _history_page(journal, staff, settings, max(0, callback_data.page))
    if isinstance(callback.message, Message):
        with contextlib.suppress(TelegramBadRequest):
            await callback.message.edit_text(text, reply_markup=markup)


def local_day(settings: Settings, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of today in TIMEZONE, as aware datetimes."""
    local = (now or utcnow()).astimezone(settings.tz)
    start = datetime.combine(local.date(), time(0), tzinfo=settings.tz)
    return start, start + timedelta(days=1)


@router.message(Command("today"))
@router.message(MenuButton(MENU_TODAY))
async def today(message: Message, staff: StaffUser, journal: Journal, settings: Settings) -> None:
    start, end = local_day(settings)
    owner = None if staff.role.sees_everyone else staff.user_id
    rows = await journal.totals(start, end, owner)
    if not rows:
        await message.answer(_("No payments today."))
        return
    lines = [_("Today, {date}:").format(date=f"{start:%d.%m.%Y}")]
    by_status: dict[str, tuple[int, Decimal]] = {}
    for _cashier, status, count, total in rows:
        old_count, old_total = by_status.get(status, (0, Decimal(0)))
        by_status[status] = (old_count + count, old_total + total)
    for status in Status:
        if status.value in by_status:
            count, total = by_status[status.value]
            lines.append(f"{status.icon} {status_label(status)}: {count} · {format_tenge(total)}")
    await message.answer("\n".join(lines))


def status_label(status: Status) -> str:
    return {
        Status.NEW: _("sending"),
        Status.PENDING: _("pending"),
        Status.COMPLETED: _("completed"),
        Status.DECLINED: _("declined"),
        Status.UNKNOWN: _("needs reconciliation"),
    }[status]
