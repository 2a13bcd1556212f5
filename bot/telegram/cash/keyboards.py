"""The cash handover's buttons."""

from __future__ import annotations

from decimal import Decimal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.domain.cash import CashPosition, Handover, HandoverState
from bot.domain.model import StaffUser
from bot.domain.parsing import format_tenge
from bot.telegram.cash.callbacks import CashRecordCb, HandoverAction, HandoverCb, HandoverToCb

#: A button's label is cut to what a phone shows on one line.
_BUTTON_NAME = 24


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
