"""/history's and /find's buttons: entries, pages, receipts."""

from __future__ import annotations

from datetime import datetime

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.domain.model import Payment
from bot.domain.parsing import format_tenge
from bot.telegram.history.callbacks import DetailCb, HistoryCb, ReceiptCb, ReceiptPdfCb


def receipt_pdf_keyboard(guid: str) -> InlineKeyboardMarkup:
    """Under the chat receipt: the PDF the client can keep."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("📄 PDF for the client"), callback_data=ReceiptPdfCb(guid=guid).pack()
                )
            ]
        ]
    )


def receipt_keyboard(payments: list[Payment]) -> InlineKeyboardMarkup | None:
    """🧾 buttons for completed top-ups: "🧾 Receipt" under one card; several are told apart
    by what the cashier knows them by, "🧾 5 000 ₸ · Aliya B.", never by GUID."""
    if not payments:
        return None
    rows = [
        [
            InlineKeyboardButton(
                text=_("🧾 Receipt") if len(payments) == 1 else receipt_label(payment),
                callback_data=ReceiptCb(guid=payment.guid).pack(),
            )
        ]
        for payment in payments
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


#: A client's first name on a button, at most (then cut with "…").
_FIRST_NAME = 16


def receipt_label(payment: Payment) -> str:
    """The amount and the client's first name and initials (as Allpay gave the name),
    "🧾 5 000 ₸ · Aliya B.": short enough for a phone's button (about 40 characters)."""
    words = payment.client_name.split()
    label = f"🧾 {format_tenge(payment.amount)}"
    if not words:
        return label
    first = words[0] if len(words[0]) <= _FIRST_NAME else words[0][: _FIRST_NAME - 1] + "…"
    initials = "".join(f" {word[0]}." for word in words[1:3])
    return f"{label} · {first}{initials}"


def history_keyboard(
    payments: list[Payment], first: int, page: int, pages: int, until: datetime, query: str = ""
) -> InlineKeyboardMarkup:
    """Under a page of /history (or /find's ``query``): a number per entry, five a row,
    numbered from ``first`` as the lines are; ◀️ ▶️ turn pages of the listing pinned at
    ``until``."""
    rows: list[list[InlineKeyboardButton]] = []
    for number, payment in enumerate(payments, start=first):
        if (number - first) % 5 == 0:
            rows.append([])
        rows[-1].append(
            InlineKeyboardButton(text=str(number), callback_data=DetailCb(guid=payment.guid).pack())
        )
    stamp = int(until.timestamp() * 1000)
    paging = [
        InlineKeyboardButton(
            text=label, callback_data=HistoryCb(page=to, until=stamp, query=query).pack()
        )
        for label, to, shown in (("◀️", page - 1, page > 0), ("▶️", page + 1, page + 1 < pages))
        if shown
    ]
    if paging:
        rows.append(paging)
    return InlineKeyboardMarkup(inline_keyboard=rows)
