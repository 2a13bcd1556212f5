"""Callback data factories. Short ids only: callback_data is at most 64 bytes."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class DraftAction(StrEnum):
    CONFIRM = "ok"
    EDIT = "ed"
    CANCEL = "no"


class DraftCb(CallbackData, prefix="d"):
    action: DraftAction
    draft_id: str


class AmountCb(CallbackData, prefix="a"):
    amount: int


class RetryCheckCb(CallbackData, prefix="rc"):
    pass


class LangCb(CallbackData, prefix="l"):
    code: str


class HistoryCb(CallbackData, prefix="h"):
    page: int
    until: int  # epoch milliseconds: the listing as it was when /history was asked


class ReceiptCb(CallbackData, prefix="r"):
    guid: str  # braced GUID: 38 characters


class ApprovalCb(CallbackData, prefix="ap"):
    action: str  # "y" approve, "n" reject
    approval_id: str
