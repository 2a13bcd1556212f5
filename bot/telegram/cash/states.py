"""The cash handover's steps (aiogram's states) and their data, typed: the cashier's (the
amount counted, then who receives it) and the supervisors' questions.

The data is stored as aiogram stores it — the dict earlier versions wrote, under the same
keys (``amount``; ``prompts`` and ``latest``), so a conversation stored before, or
snapshotted for a rerun, still reads; what comes back from storage is checked field by field
and anything else reads as absent (see :mod:`bot.telegram.cashin.states`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup


class Handing(StatesGroup):
    amount = State()  # the cashier types the cash counted
    receiver = State()  # the cashier chooses who receives it


@dataclass(frozen=True, slots=True)
class HandingData:
    """The cash counted, kept while the cashier chooses who receives it (stored as its
    decimal string)."""

    amount: Decimal | None = None

    @classmethod
    async def load(cls, state: FSMContext) -> HandingData:
        stored = (await state.get_data()).get("amount")
        if not isinstance(stored, str):
            return cls()
        try:
            amount = Decimal(stored)
        except InvalidOperation:
            return cls()
        return cls(amount if amount.is_finite() else None)

    async def save(self, state: FSMContext) -> None:
        """The whole data of the conversation becomes this."""
        await state.set_data({} if self.amount is None else {"amount": str(self.amount)})


class Receiving(StatesGroup):
    #: A supervisor answers a question about cash: the amount received (or recorded on a
    #: cashier's behalf), or the reason for a write-off. Several may be open at once.
    answer = State()


#: What a question asks: the amount received for a handover (``count``), the amount received
#: from a cashier who cannot declare it (``record``), or the reason for a write-off.
QuestionKind = Literal["count", "record", "reason"]
_KINDS: tuple[QuestionKind, ...] = ("reason", "record", "count")


@dataclass(frozen=True, slots=True)
class Question:
    """One open question. Stored as ``{kind: subject}`` (and ``seen`` for a record)."""

    kind: QuestionKind
    #: The handover asked about (count, reason), or the cashier recorded for (record).
    subject: int
    #: A record: the cashier's newest handover the supervisor had seen (0: none).
    seen: int = 0

    @classmethod
    def read(cls, stored: object) -> Question | None:
        if not isinstance(stored, dict):
            return None
        kind = next((kind for kind in _KINDS if kind in stored), None)
        subject = _number(stored.get(kind)) if kind is not None else None
        seen = _number(stored.get("seen", 0))
        if kind is None or subject is None or seen is None:
            return None
        return cls(kind, subject, seen if kind == "record" else 0)

    def stored(self) -> dict[str, int]:
        if self.kind == "record":
            return {"record": self.subject, "seen": self.seen}
        return {self.kind: self.subject}


@dataclass(frozen=True, slots=True)
class ReceivingData:
    """A supervisor's open questions by their prompt's message id (an answer goes to the
    prompt it replies to), and the latest asked (an answer typed without replying goes
    there)."""

    prompts: dict[int, Question] = field(default_factory=dict)
    latest: int | None = None

    @classmethod
    async def load(cls, state: FSMContext) -> ReceivingData:
        data = await state.get_data()
        stored = data.get("prompts")
        prompts: dict[int, Question] = {}
        for key, value in stored.items() if isinstance(stored, dict) else ():
            prompt, question = _number(key), Question.read(value)
            if prompt is not None and question is not None:
                prompts[prompt] = question
        return cls(prompts, _number(data.get("latest")))

    @classmethod
    async def open(cls, state: FSMContext) -> ReceivingData:
        """The questions open now: none when the conversation is at another step."""
        if await state.get_state() != Receiving.answer.state:
            return cls()
        return await cls.load(state)

    async def save(self, state: FSMContext) -> None:
        """The whole data of the conversation becomes this; with no question open, the
        conversation ends."""
        if not self.prompts:
            await state.clear()
            return
        await state.set_data(
            {
                "prompts": {str(key): question.stored() for key, question in self.prompts.items()},
                "latest": str(self.latest) if self.latest is not None else None,
            }
        )


def _number(value: object) -> int | None:
    """A stored id: a whole number (or its digits, as a dict key comes back from JSON)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
