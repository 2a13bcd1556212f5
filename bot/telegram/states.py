from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class CashIn(StatesGroup):
    login = State()  # waiting for the client's login (text or a shared contact)
    amount = State()  # the client was found; waiting for the amount
    confirm = State()  # the confirmation card is shown


class RejectReason(StatesGroup):
    text = State()  # a supervisor may explain a rejection to the cashier


class Handing(StatesGroup):
    amount = State()  # the cashier types the cash counted
    receiver = State()  # the cashier chooses who receives it


class Receiving(StatesGroup):
    #: A supervisor answers a question about cash: the amount received (or recorded on a
    #: cashier's behalf), or the reason for a write-off. Several may be open at once.
    answer = State()
