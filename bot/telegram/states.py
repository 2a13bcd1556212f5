from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class CashIn(StatesGroup):
    login = State()  # waiting for the client's login (text or a shared contact)
    amount = State()  # the client was found; waiting for the amount
    confirm = State()  # the confirmation card is shown


class RejectReason(StatesGroup):
    text = State()  # a supervisor may explain a rejection to the cashier
