"""The cash handover's buttons' data."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from bot.telegram.shared.callbacks import UserId

#: A handover's number (SQLite rowid).
HandoverId = Annotated[int, Field(ge=1, le=10**12)]


class HandoverAction(StrEnum):
    RECEIVED = "y"  # supervisors: received as declared
    OTHER_AMOUNT = "o"  # … another amount
    NOT_RECEIVED = "n"  # … nothing received
    WRITE_OFF = "x"  # … write the difference off
    WITHDRAW = "w"  # the cashier who declared it


class HandoverCb(CallbackData, prefix="ho"):
    action: HandoverAction
    handover_id: HandoverId


class HandoverToCb(CallbackData, prefix="ht"):
    """The cashier chooses who receives the cash (0: any supervisor)."""

    receiver: Annotated[int, Field(ge=0, le=10**13)]


class CashRecordCb(CallbackData, prefix="cr"):
    """A supervisor records a cashier's handover on their behalf."""

    cashier_id: UserId
