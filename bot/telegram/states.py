"""Each conversation's steps (aiogram's states) and its data, typed: one model per flow.

The data is stored as aiogram stores it (a dict under the same keys as before, so a
conversation stored by an earlier version, or snapshotted for a rerun, still reads); what
comes back from storage is checked field by field, and anything else reads as absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup


class _Keep(Enum):
    KEEP = "keep"


#: An ``update`` argument left out: the field keeps its value.
KEEP = _Keep.KEEP


class CashIn(StatesGroup):
    login = State()  # waiting for the client's login (text or a shared contact)
    amount = State()  # the client was found; waiting for the amount
    confirm = State()  # the confirmation card is shown


@dataclass(frozen=True, slots=True)
class CashInData:
    """The cash-in conversation: the draft it works on, and the bot's message whose buttons
    (presets, recent clients, "try again") act — any older message's do not."""

    draft: str | None = None
    prompt: int | None = None

    @classmethod
    async def load(cls, state: FSMContext) -> CashInData:
        data = await state.get_data()
        draft, prompt = data.get("draft"), data.get("prompt")
        return cls(
            draft if isinstance(draft, str) else None,
            prompt if isinstance(prompt, int) and not isinstance(prompt, bool) else None,
        )

    async def save(self, state: FSMContext) -> None:
        """The whole data of the conversation becomes this."""
        await state.set_data(
            {
                key: value
                for key, value in (("draft", self.draft), ("prompt", self.prompt))
                if value is not None
            }
        )

    async def update(
        self,
        state: FSMContext,
        *,
        draft: str | _Keep | None = KEEP,
        prompt: int | _Keep | None = KEEP,
    ) -> CashInData:
        """Change the fields given (None clears one), keep the rest; the new data."""
        new = CashInData(
            self.draft if isinstance(draft, _Keep) else draft,
            self.prompt if isinstance(prompt, _Keep) else prompt,
        )
        await new.save(state)
        return new


class RejectReason(StatesGroup):
    text = State()  # a supervisor may explain a rejection to the cashier


@dataclass(frozen=True, slots=True)
class RejectReasonData:
    """The rejected request a reason is asked for, and the question's message (its buttons
    go once answered)."""

    approval_id: str | None = None
    ask_id: int | None = None

    @classmethod
    async def load(cls, state: FSMContext) -> RejectReasonData:
        data = await state.get_data()
        approval_id, ask_id = data.get("approval_id"), data.get("ask_id")
        return cls(
            approval_id if isinstance(approval_id, str) else None,
            ask_id if isinstance(ask_id, int) and not isinstance(ask_id, bool) else None,
        )

    async def save(self, state: FSMContext) -> None:
        await state.set_data({"approval_id": self.approval_id, "ask_id": self.ask_id})


class Handing(StatesGroup):
    amount = State()  # the cashier types the cash counted
    receiver = State()  # the cashier chooses who receives it


class Receiving(StatesGroup):
    #: A supervisor answers a question about cash: the amount received (or recorded on a
    #: cashier's behalf), or the reason for a write-off. Several may be open at once.
    answer = State()
