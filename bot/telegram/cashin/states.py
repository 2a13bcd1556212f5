"""The cash-in conversation's steps (aiogram's states) and its data, typed.

The data is stored as aiogram stores it (a dict under the same keys as before, so a
conversation stored by an earlier version, or snapshotted for a rerun, still reads); what
comes back from storage is checked field by field, and anything else reads as absent."""

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
