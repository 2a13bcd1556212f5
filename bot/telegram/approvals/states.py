"""The rejection reason's step and its data, typed (stored as the dict earlier versions wrote,
checked field by field as it comes back; see :mod:`bot.telegram.cashin.states`)."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup


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
