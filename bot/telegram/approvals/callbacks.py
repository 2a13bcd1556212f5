"""Approval requests' buttons' data."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from aiogram.filters.callback_data import CallbackData

from bot.telegram.shared.callbacks import ShortId


class ApprovalAction(StrEnum):
    APPROVE = "y"  # supervisors and admins
    REJECT = "n"
    WITHDRAW = "w"  # the cashier who asked


class ApprovalCb(CallbackData, prefix="ap"):
    action: ApprovalAction
    approval_id: ShortId


#: The common rejection reasons a supervisor picks from buttons after ❌.
RejectReasonCode = Literal["unidentified", "too_large", "wrong_client", "suspicious"]


class RejectReasonCb(CallbackData, prefix="rr"):
    """A rejection reason chosen from the buttons (told to the cashier in their language)."""

    code: RejectReasonCode
    approval_id: ShortId
