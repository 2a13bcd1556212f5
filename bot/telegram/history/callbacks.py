"""/history's, /find's and receipts' buttons' data."""

from __future__ import annotations

from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field, StringConstraints

from bot.telegram.shared.callbacks import BracedGuid, EpochMs


class HistoryCb(CallbackData, prefix="h"):
    page: Annotated[int, Field(ge=0, le=100_000)]
    until: EpochMs  # the listing as it was when /history was asked
    #: /find's query as typed (its pages are /history's, narrowed); empty for /history.
    #: Printable ASCII without the separator: what ``parse_lookup`` can accept.
    query: Annotated[str, StringConstraints(pattern=r"^[ -9;-~]{0,40}$")] = ""


class ReceiptCb(CallbackData, prefix="r"):
    guid: BracedGuid  # 38 characters


class ReceiptPdfCb(CallbackData, prefix="rp"):
    guid: BracedGuid


class DetailCb(CallbackData, prefix="hd"):
    """One entry of /history, opened."""

    guid: BracedGuid
