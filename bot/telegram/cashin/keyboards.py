"""The cash-in conversation's buttons: preset amounts, recent clients, the card's, and
those under a final status."""

from __future__ import annotations

import functools
from decimal import Decimal

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.domain.model import Payment, Status
from bot.domain.parsing import format_login, format_tenge
from bot.telegram.cashin.callbacks import (
    AgainCb,
    AmountCb,
    DraftAction,
    DraftCb,
    RecentCb,
    RetryCheckCb,
)
from bot.telegram.history.callbacks import ReceiptCb

QUICK_AMOUNTS = (1000, 2000, 5000, 10000, 20000, 50000)


@functools.lru_cache(maxsize=8)
def quick_amounts(minimum: Decimal, maximum: Decimal) -> InlineKeyboardMarkup | None:
    """The preset amounts within the limits, three a row. The same in every language, so
    built once (aiogram's builder deep-copies every button: ~3 ms a keyboard)."""
    buttons = [
        InlineKeyboardButton(
            text=format_tenge(Decimal(amount)), callback_data=AmountCb(amount=amount).pack()
        )
        for amount in QUICK_AMOUNTS
        if minimum <= amount <= maximum
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def confirm_keyboard(draft_id: str, *, approval: bool = False) -> InlineKeyboardMarkup:
    """The card's buttons; with ``approval`` the confirm says it asks a supervisor."""
    confirm = InlineKeyboardButton(
        text=_("🛂 Confirm and ask for approval") if approval else _("✅ Confirm"),
        callback_data=DraftCb(action=DraftAction.CONFIRM, draft_id=draft_id).pack(),
    )
    rest = change_or_cancel_keyboard(draft_id).inline_keyboard
    return InlineKeyboardMarkup(inline_keyboard=[[confirm], *rest])


def retry_confirm_keyboard(draft_id: str) -> InlineKeyboardMarkup:
    """A card whose confirm could not be recorded: the same confirm once more (one draft,
    one payment at most: a second press finds the first if it landed), or cancel."""
    again = InlineKeyboardButton(
        text=_("🔄 Try again"),
        callback_data=DraftCb(action=DraftAction.CONFIRM, draft_id=draft_id).pack(),
    )
    cancel = InlineKeyboardButton(
        text=_("✖️ Cancel"),
        callback_data=DraftCb(action=DraftAction.CANCEL, draft_id=draft_id).pack(),
    )
    return InlineKeyboardMarkup(inline_keyboard=[[again, cancel]])


def change_or_cancel_keyboard(draft_id: str) -> InlineKeyboardMarkup:
    """A card that may not be confirmed as it is (over a limit)."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("✏️ Change amount"),
                    callback_data=DraftCb(action=DraftAction.EDIT, draft_id=draft_id).pack(),
                ),
                InlineKeyboardButton(
                    text=_("✖️ Cancel"),
                    callback_data=DraftCb(action=DraftAction.CANCEL, draft_id=draft_id).pack(),
                ),
            ],
        ]
    )


def retry_check_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("🔄 Try again"), callback_data=RetryCheckCb().pack())]
        ]
    )


def final_keyboard(payment: Payment) -> InlineKeyboardMarkup | None:
    """Under a final status: the receipt (completed) and a new top-up for the same client."""
    row: list[InlineKeyboardButton] = []
    if payment.status is Status.COMPLETED:
        row.append(
            InlineKeyboardButton(
                text=_("🧾 Receipt"), callback_data=ReceiptCb(guid=payment.guid).pack()
            )
        )
    if payment.status in (Status.COMPLETED, Status.DECLINED):
        row.append(
            InlineKeyboardButton(
                text=_("🔁 Again for this client"),
                callback_data=AgainCb(guid=payment.guid).pack(),
            )
        )
    return InlineKeyboardMarkup(inline_keyboard=[row]) if row else None


#: A button's label is cut to what a phone shows on one line.
_BUTTON_NAME = 24


def recent_clients_keyboard(clients: list[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    """The cashier's last clients at the login step: one tap instead of eleven digits."""
    rows = []
    for login, name in clients:
        short = name if len(name) <= _BUTTON_NAME else name[: _BUTTON_NAME - 1] + "…"
        label = f"{short} · {format_login(login)}" if short else format_login(login)
        rows.append([InlineKeyboardButton(text=label, callback_data=RecentCb(login=login).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
