"""The cash-in conversation's buttons' data."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field, StringConstraints

from bot.telegram.shared.callbacks import BracedGuid, ShortId


class DraftAction(StrEnum):
    CONFIRM = "ok"
    EDIT = "ed"
    CANCEL = "no"


class DraftCb(CallbackData, prefix="d"):
    action: DraftAction
    draft_id: ShortId


class AmountCb(CallbackData, prefix="a"):
    amount: Annotated[int, Field(ge=1, le=1_000_000_000)]


class RetryCheckCb(CallbackData, prefix="rc"):
    pass


class AgainCb(CallbackData, prefix="ag"):
    """ "Again for this client" on a final status message: a new top-up, same login."""

    guid: BracedGuid


class RecentCb(CallbackData, prefix="rl"):
    """One of the cashier's recent clients, offered at the login step."""

    login: Annotated[str, StringConstraints(pattern=r"^[0-9]{8,11}$")]
