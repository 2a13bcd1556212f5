"""An approval request's buttons: decide it, give a reason, take it back."""

from __future__ import annotations

from collections.abc import Mapping

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.telegram.approvals.callbacks import (
    ApprovalAction,
    ApprovalCb,
    RejectReasonCb,
    RejectReasonCode,
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
