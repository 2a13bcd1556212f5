"""The cash handover's steps: the cashier's (the amount, who receives it) and the
supervisors' questions."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class Handing(StatesGroup):
    amount = State()  # the cashier types the cash counted
    receiver = State()  # the cashier chooses who receives it


class Receiving(StatesGroup):
    #: A supervisor answers a question about cash: the amount received (or recorded on a
    #: cashier's behalf), or the reason for a write-off. Several may be open at once.
    answer = State()
