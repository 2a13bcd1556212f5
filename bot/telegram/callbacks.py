"""Callback data factories. Short ids only: callback_data is at most 64 bytes.

Every field is bounded by its type: callback data is typed by whoever sends the update, and a
forged value must fail to unpack (the button is then "no longer active"), never reach a
handler as an overflowing number or an unexpected word.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from aiogram.filters.callback_data import CallbackData
from pydantic import Field, StringConstraints

#: ``secrets.token_urlsafe(9)``: 12 URL-safe characters.
ShortId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{12}$")]
#: A braced GUID as the journal stores it.
BracedGuid = Annotated[
    str, StringConstraints(pattern=r"^\{[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}$")
]
#: Epoch milliseconds between 2020 and 2100.
EpochMs = Annotated[int, Field(ge=1_577_836_800_000, le=4_102_444_800_000)]


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


class LangCb(CallbackData, prefix="l"):
    code: Literal["ru", "kk", "en"]


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


class AgainCb(CallbackData, prefix="ag"):
    """ "Again for this client" on a final status message: a new top-up, same login."""

    guid: BracedGuid


class RecentCb(CallbackData, prefix="rl"):
    """One of the cashier's recent clients, offered at the login step."""

    login: Annotated[str, StringConstraints(pattern=r"^[0-9]{8,11}$")]


class DetailCb(CallbackData, prefix="hd"):
    """One entry of /history, opened."""

    guid: BracedGuid


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


#: A handover's number (SQLite rowid).
HandoverId = Annotated[int, Field(ge=1, le=10**12)]
#: A Telegram user id.
UserId = Annotated[int, Field(ge=1, le=10**13)]


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
