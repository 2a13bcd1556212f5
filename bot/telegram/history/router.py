"""/history, /find, receipts and /today: "did my top-up go through?", hours later.

A cashier sees only their own payments — someone else's GUID answers exactly as a missing
one does. Supervisors and admins see everyone's, with the cashier named. /find lists its
matches as /history does — a numbered line each, a number opens one, ◀️ ▶️ turn the pages —
and opens a single match at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from html import escape

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _

from bot.documents.receipt import filename, render_pdf
from bot.domain.clock import utcnow
from bot.domain.model import Payment, StaffUser, Status
from bot.domain.receipts import Receipt
from bot.domain.reports import Lookup, local_today, parse_lookup
from bot.telegram.history import texts
from bot.telegram.history.callbacks import DetailCb, HistoryCb, ReceiptCb, ReceiptPdfCb
from bot.telegram.history.keyboards import history_keyboard, receipt_keyboard, receipt_pdf_keyboard
from bot.telegram.reports.texts import summary_text
from bot.telegram.shared.actions import uploading_document
from bot.telegram.shared.answers import PressAnswer
from bot.telegram.shared.filters import Is, MenuButton, OnMessage
from bot.telegram.shared.menu import MENU_HISTORY, MENU_TODAY
from bot.telegram.shared.texts import person
from bot.telegram.shared.view import View
from bot.usecases.reports import Page, Reports

PAGE_SIZE = 10
#: The longest /find query its page buttons carry (callback data is at most 64 bytes).
QUERY_MAX = 40


def make_router() -> Router:
    """Every role: a cashier sees their own payments, supervisors and admins everyone's."""
    router = Router(name="history")
    router.message.register(history, Command("history"))
    router.message.register(history, MenuButton(MENU_HISTORY))
    router.message.register(find, Command("find"))
    router.message.register(today, Command("today"))
    router.message.register(today, MenuButton(MENU_TODAY))
    pressed = Router(name="history.pressed")  # every button here answers on its message
    pressed.callback_query.filter(OnMessage())
    pressed.callback_query.register(history_page, HistoryCb.filter())
    pressed.callback_query.register(detail, DetailCb.filter())
    pressed.callback_query.register(send_receipt, ReceiptCb.filter())
    pressed.callback_query.register(send_receipt_pdf, ReceiptPdfCb.filter())
    for prefix in (ReceiptCb.__prefix__, ReceiptPdfCb.__prefix__):
        pressed.callback_query.register(bad_receipt, Is(F.data.startswith(f"{prefix}:")))
    router.include_router(pressed)
    return router


def _owner(staff: StaffUser) -> int | None:
    """Whose payments ``staff`` may see: their own, or (None) everyone's."""
    return None if staff.role.sees_everyone else staff.user_id


# ---------------------------------------------------------------- /history and /find


def _list_page(
    found: Page, page: int, until: datetime, query: str, staff_view: bool, view: View
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A page of /history, or of /find's matches (``query``): one numbered line per top-up,
    a number opens it, ◀️ ▶️ turn the pages pinned at ``until``."""
    if found.total == 0:
        if query:
            return _("Nothing found for «{query}».").format(query=escape(query)), None
        return _("No top-ups yet."), None
    pages = (found.total + PAGE_SIZE - 1) // PAGE_SIZE
    if query:
        title = _("Top-ups for «{query}», page {page} of {pages}:").format(
            query=escape(query), page=page + 1, pages=pages
        )
    else:
        title = _("Top-ups, page {page} of {pages}:").format(page=page + 1, pages=pages)
    lines = [title, ""]
    first = page * PAGE_SIZE + 1
    for number, p in enumerate(found.payments, start=first):
        cashier = person(p.cashier_id, found.names) if staff_view else None
        lines.append(texts.history_line(number, p, view.tz, cashier))
    lines += ["", _("Tap a number for the details.")]
    return "\n".join(lines), history_keyboard(found.payments, first, page, pages, until, query)


async def _history_page(
    reports: Reports, staff: StaffUser, view: View, page: int, until: datetime
) -> tuple[str, InlineKeyboardMarkup | None]:
    owner = _owner(staff)
    found = await reports.history(owner, page * PAGE_SIZE, PAGE_SIZE, until)
    return _list_page(found, page, until, "", owner is None, view)


async def history(message: Message, staff: StaffUser, reports: Reports, view: View) -> None:
    text, markup = await _history_page(reports, staff, view, 0, utcnow())
    await message.answer(text, reply_markup=markup)


async def history_page(
    callback: CallbackQuery,
    callback_data: HistoryCb,
    staff: StaffUser,
    reports: Reports,
    view: View,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    """◀️ ▶️ under /history or /find: the same listing, another page."""
    until = datetime.fromtimestamp(max(0, callback_data.until) / 1000, UTC)
    page = max(0, callback_data.page)
    query = callback_data.query
    if not query:
        text, markup = await _history_page(reports, staff, view, page, until)
    else:
        lookup = parse_lookup(query)
        if lookup is None:  # not one /find ever made: forged
            callback_answer.alert(_("This button is no longer active."))
            return
        owner = _owner(staff)
        found = await reports.find_page(lookup, owner, page * PAGE_SIZE, PAGE_SIZE, until)
        text, markup = _list_page(found, page, until, query, owner is None, view)
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_text(text, reply_markup=markup)


async def detail(
    callback: CallbackQuery,
    callback_data: DetailCb,
    staff: StaffUser,
    reports: Reports,
    view: View,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    """A /history or /find entry's number: everything known about that top-up, with its
    receipt."""
    found = await reports.detail(callback_data.guid, _owner(staff))
    if not found.payments:
        callback_answer.alert(_("This button is no longer active."))
        return
    [payment] = found.payments
    await message.answer(
        _card(payment, found.names, staff, view),
        reply_markup=receipt_keyboard(_completed([payment])),
    )


def _card(payment: Payment, names: dict[int, str], staff: StaffUser, view: View) -> str:
    return texts.payment_card(
        payment,
        view.tz,
        person(payment.cashier_id, names),
        staff_view=staff.role.sees_everyone,
        sandbox=view.sandbox,
    )


def _completed(payments: list[Payment]) -> list[Payment]:
    return [p for p in payments if p.status is Status.COMPLETED]


def _page_query(query: str, lookup: Lookup) -> str:
    """The query as its page buttons carry it: as typed, spaces made plain; one that would not
    fit a button's data (an odd way of typing) by what it was understood as."""
    plain = " ".join(query.split())
    if len(plain) <= QUERY_MAX and plain.isascii() and ":" not in plain:
        return plain
    return lookup.guid_prefix or lookup.login or ""


async def find(
    message: Message,
    command: CommandObject,
    staff: StaffUser,
    reports: Reports,
    view: View,
) -> None:
    """/find: one match opens as its card; more are listed as /history lists, with pages."""
    query = (command.args or "").strip()
    if not query:
        await message.answer(
            _(
                "Usage: /find followed by a GUID, its first 8 characters or the client's "
                "login.\nFor example: /find 1a2b3c4d or /find +7 701 000 00 01"
            )
        )
        return
    lookup = parse_lookup(query)
    if lookup is None:
        await message.answer(
            _(
                "«{query}» is neither a GUID (hex digits 0-9, a-f), a GUID prefix of at least "
                "8 characters, nor a client's phone number."
            ).format(query=escape(query[:60]))
        )
        return
    owner, until = _owner(staff), utcnow()
    found = await reports.find_page(lookup, owner, 0, PAGE_SIZE, until)
    if found.total == 1:
        [payment] = found.payments
        await message.answer(
            _card(payment, found.names, staff, view),
            reply_markup=receipt_keyboard(_completed([payment])),
        )
        return
    shown = _page_query(query, lookup)
    text, markup = _list_page(found, 0, until, shown, owner is None, view)
    await message.answer(text, reply_markup=markup)


# ---------------------------------------------------------------- receipts


async def _receipt(
    reports: Reports, staff: StaffUser, guid: str, answer: PressAnswer
) -> Receipt | None:
    """The receipt ``staff`` may see; refused like a missing one."""
    receipt = await reports.receipt(guid, _owner(staff))
    if receipt is None:
        answer.alert(_("A receipt exists only for a completed top-up."))
    return receipt


async def send_receipt(
    callback: CallbackQuery,
    callback_data: ReceiptCb,
    staff: StaffUser,
    reports: Reports,
    view: View,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    receipt = await _receipt(reports, staff, callback_data.guid, callback_answer)
    if receipt is not None:
        await message.answer(
            texts.receipt(receipt, view.tz),
            reply_markup=receipt_pdf_keyboard(receipt.payment.guid),
        )


async def send_receipt_pdf(
    callback: CallbackQuery,
    callback_data: ReceiptPdfCb,
    staff: StaffUser,
    reports: Reports,
    view: View,
    bot: Bot,
    callback_answer: PressAnswer,
    message: Message,
) -> None:
    """The receipt as a PDF document the cashier forwards to the client, made on request."""
    receipt = await _receipt(reports, staff, callback_data.guid, callback_answer)
    if receipt is None:
        return
    await callback_answer.now()  # before the PDF is made: the spinner stops
    # Rendering takes about a quarter second of CPU: in a thread (the gettext context,
    # the reader's language, goes with it).
    async with uploading_document(bot, message.chat.id):
        data = await asyncio.to_thread(render_pdf, receipt, view.tz, _)
    await message.answer_document(
        BufferedInputFile(data, filename=filename(receipt)),
        caption=_("🧾 Receipt No. {number} for the client: forward it.").format(
            number=receipt.number
        ),
    )


# ---------------------------------------------------------------- /today


async def today(message: Message, staff: StaffUser, reports: Reports, view: View) -> None:
    day = local_today(utcnow(), view.tz)
    owner = _owner(staff)
    summary, names = await reports.totals(day, day, owner)
    if summary.empty:
        await message.answer(_("No top-ups today."))
        return
    title = _("Today, {date}:").format(date=f"{day:%d.%m.%Y}")
    await message.answer(summary_text(title, summary, names, per_cashier=owner is None))


async def bad_receipt(callback: CallbackQuery, callback_answer: PressAnswer) -> None:
    """A receipt button whose data does not parse (forged or from an old version)."""
    callback_answer.alert(_("A receipt exists only for a completed top-up."))
