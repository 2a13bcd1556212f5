from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _

from bot.domain.cash import CashPosition, Handover, HandoverState
from bot.domain.model import Payment, StaffUser, Status
from bot.domain.parsing import format_login, format_tenge
from bot.telegram.callbacks import (
    AgainCb,
    AmountCb,
    ApprovalAction,
    ApprovalCb,
    CashRecordCb,
    DetailCb,
    DraftAction,
    DraftCb,
    HandoverAction,
    HandoverCb,
    HandoverToCb,
    HistoryCb,
    LangCb,
    ReceiptCb,
    ReceiptPdfCb,
    RecentCb,
    RejectReasonCb,
    RejectReasonCode,
    RetryCheckCb,
)


def N_(msgid: str) -> str:
    """Marks a message for extraction; translated where it is shown (and matched)."""
    return msgid


# Main-menu labels; handlers match them in every language (see filters.MenuButton).
MENU_TOP_UP = N_("💵 Top up")
MENU_HISTORY = N_("📜 History")
MENU_TODAY = N_("📊 Today")
MENU_LANGUAGE = N_("🌐 Language")
MENU_HELP = N_("❓ Help")
MENU = (MENU_TOP_UP, MENU_HISTORY, MENU_TODAY, MENU_LANGUAGE, MENU_HELP)

LANGUAGE_NAMES = {"ru": "🇷🇺 Русский", "kk": "🇰🇿 Қазақша", "en": "🇬🇧 English"}
QUICK_AMOUNTS = (1000, 2000, 5000, 10000, 20000, 50000)


def main_menu() -> ReplyKeyboardMarkup:
    return _main_menu(get_i18n().current_locale)


@functools.lru_cache(maxsize=8)
def _main_menu(locale: str) -> ReplyKeyboardMarkup:
    """Built once per language (``locale`` is the one in use, which ``_`` reads)."""
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=_(MENU_TOP_UP))],
            [KeyboardButton(text=_(MENU_HISTORY)), KeyboardButton(text=_(MENU_TODAY))],
            [KeyboardButton(text=_(MENU_LANGUAGE)), KeyboardButton(text=_(MENU_HELP))],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


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


def approval_keyboard(approval_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("✅ Approve"),
                    callback_data=ApprovalCb(
                        action=ApprovalAction.APPROVE, approval_id=approval_id
                    ).pack(),
                ),
                InlineKeyboardButton(
                    text=_("❌ Reject"),
                    callback_data=ApprovalCb(
                        action=ApprovalAction.REJECT, approval_id=approval_id
                    ).pack(),
                ),
            ]
        ]
    )


def reject_reasons_keyboard(
    approval_id: str, reasons: Mapping[RejectReasonCode, str]
) -> InlineKeyboardMarkup:
    """After ❌: the common reasons (code → msgid), one a row; a typed one works too."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_(msgid),
                    callback_data=RejectReasonCb(code=code, approval_id=approval_id).pack(),
                )
            ]
            for code, msgid in reasons.items()
        ]
    )


def withdraw_keyboard(approval_id: str) -> InlineKeyboardMarkup:
    """The cashier's waiting card: take the request back before anyone decides."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("↩️ Withdraw request"),
                    callback_data=ApprovalCb(
                        action=ApprovalAction.WITHDRAW, approval_id=approval_id
                    ).pack(),
                )
            ]
        ]
    )


def retry_check_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("🔄 Try again"), callback_data=RetryCheckCb().pack())]
        ]
    )


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=name, callback_data=LangCb(code=code).pack())]
            for code, name in LANGUAGE_NAMES.items()
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


# ---------------------------------------------------------------- paper money


def _short(name: str) -> str:
    return name if len(name) <= _BUTTON_NAME else name[: _BUTTON_NAME - 1] + "…"


def _button(text: str, data: CallbackData) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=text, callback_data=data.pack())]


def receivers_keyboard(receivers: list[StaffUser]) -> InlineKeyboardMarkup:
    """Who receives the cash: each supervisor by name, or whoever answers first."""
    rows = [
        _button(_short(user.name or str(user.user_id)), HandoverToCb(receiver=user.user_id))
        for user in receivers
    ]
    rows.append(_button(_("Any supervisor"), HandoverToCb(receiver=0)))
    return InlineKeyboardMarkup(inline_keyboard=rows)


def handover_card_keyboard(handover: Handover) -> InlineKeyboardMarkup | None:
    """A supervisor's card while the handover waits."""
    if handover.state is not HandoverState.DECLARED:
        return None
    declared = format_tenge(handover.declared or Decimal(0))
    return InlineKeyboardMarkup(
        inline_keyboard=[
            _button(
                _("👍 Received {amount}").format(amount=declared),
                HandoverCb(action=HandoverAction.RECEIVED, handover_id=handover.id),
            ),
            _button(
                _("✏️ Another amount"),
                HandoverCb(action=HandoverAction.OTHER_AMOUNT, handover_id=handover.id),
            ),
            _button(
                _("🚫 Nothing received"),
                HandoverCb(action=HandoverAction.NOT_RECEIVED, handover_id=handover.id),
            ),
        ]
    )


def handover_notice_keyboard(handover: Handover) -> InlineKeyboardMarkup | None:
    """The cashier's message while the handover waits: take it back."""
    if handover.state is not HandoverState.DECLARED:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            _button(
                _("↩️ Withdraw handover"),
                HandoverCb(action=HandoverAction.WITHDRAW, handover_id=handover.id),
            )
        ]
    )


#: Buttons under a supervisor's /cash, at most (the listing itself is complete).
_CASH_BUTTONS = 20


def cash_book_keyboard(
    positions: list[CashPosition], names: dict[int, str], me: int
) -> InlineKeyboardMarkup | None:
    """Under a supervisor's /cash: write off each open variance, and record a handover on
    behalf of a cashier who holds cash (and has none waiting). Never for the supervisor's
    own cash."""
    rows: list[list[InlineKeyboardButton]] = []
    for position in positions:
        if position.cashier_id == me:
            continue
        name = _short(names.get(position.cashier_id) or str(position.cashier_id))
        for handover in position.open_variances:
            rows.append(
                _button(
                    _("✔️ Write off {number} · {name}").format(number=f"#{handover.id}", name=name),
                    HandoverCb(action=HandoverAction.WRITE_OFF, handover_id=handover.id),
                )
            )
        if position.collected and position.waiting is None:
            rows.append(
                _button(
                    _("📥 Record handover · {name}").format(name=name),
                    CashRecordCb(cashier_id=position.cashier_id),
                )
            )
    return InlineKeyboardMarkup(inline_keyboard=rows[:_CASH_BUTTONS]) if rows else None
