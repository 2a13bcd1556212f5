"""Conversation data is typed (each feature's ``states.py`` under bot/telegram/): what storage
gives back is checked field by field, and the stored form stays the dict earlier versions
wrote."""

from __future__ import annotations

from decimal import Decimal

from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from bot.telegram.approvals.states import RejectReasonData
from bot.telegram.cash.states import HandingData, Question, Receiving, ReceivingData
from bot.telegram.cashin.states import CashInData


def _state() -> FSMContext:
    return FSMContext(MemoryStorage(), StorageKey(bot_id=1, chat_id=200, user_id=200))


async def test_cash_in_data_reads_what_earlier_versions_stored() -> None:
    state = _state()
    await state.set_data({"draft": "hZnzBk7zCzbK", "prompt": 17})
    assert await CashInData.load(state) == CashInData("hZnzBk7zCzbK", 17)
    data = await CashInData.load(state)
    await data.update(state, prompt=18)
    assert await state.get_data() == {"draft": "hZnzBk7zCzbK", "prompt": 18}
    await CashInData(draft="Svlb7UTZ2ip7").save(state)
    assert await state.get_data() == {"draft": "Svlb7UTZ2ip7"}  # the whole data replaced


async def test_anything_else_in_storage_reads_as_absent() -> None:
    state = _state()
    await state.set_data({"draft": 5, "prompt": "17", "approval_id": None, "ask_id": True})
    assert await CashInData.load(state) == CashInData()
    assert await RejectReasonData.load(state) == RejectReasonData()
    await RejectReasonData("abcdefghijkl", 9).save(state)
    assert await RejectReasonData.load(state) == RejectReasonData("abcdefghijkl", 9)


async def test_an_update_keeps_what_it_is_not_given_and_clears_what_is_none() -> None:
    state = _state()
    data = await CashInData("hZnzBk7zCzbK", 17).update(state, prompt=18)
    assert data == CashInData("hZnzBk7zCzbK", 18)
    assert await data.update(state, draft=None) == CashInData(None, 18)
    assert await state.get_data() == {"prompt": 18}


async def test_the_handovers_data_reads_what_earlier_versions_stored() -> None:
    state = _state()
    await state.set_state(Receiving.answer)
    await state.set_data(
        {
            "prompts": {
                "41": {"count": 3},
                "42": {"record": 201, "seen": 7},
                "43": {"reason": 4},
            },
            "latest": "43",
        }
    )
    data = await ReceivingData.load(state)
    assert data == ReceivingData(
        {
            41: Question("count", 3),
            42: Question("record", 201, 7),
            43: Question("reason", 4),
        },
        43,
    )
    await data.save(state)  # the stored form is the dict it was
    assert await state.get_data() == {
        "prompts": {"41": {"count": 3}, "42": {"record": 201, "seen": 7}, "43": {"reason": 4}},
        "latest": "43",
    }
    await ReceivingData().save(state)  # no question open: the conversation ends
    assert await state.get_state() is None and await state.get_data() == {}
    await state.set_data({"amount": "15000.50"})
    assert await HandingData.load(state) == HandingData(Decimal("15000.50"))
    await HandingData(Decimal(9000)).save(state)
    assert await state.get_data() == {"amount": "9000"}


async def test_anything_else_in_the_handovers_storage_reads_as_absent() -> None:
    state = _state()
    await state.set_data(
        {
            "prompts": {"x": {"count": 3}, "5": {"count": "three"}, "6": [], "7": {"seen": 2}},
            "latest": 5.5,
            "amount": "NaN",
        }
    )
    assert await ReceivingData.load(state) == ReceivingData()
    assert await HandingData.load(state) == HandingData()
    await state.set_data({"prompts": ["41"], "amount": 9000})
    assert await ReceivingData.load(state) == ReceivingData()
    assert await HandingData.load(state) == HandingData()
    # The questions open are a conversation's only at its answering step.
    await state.set_state("Handing:amount")
    await state.set_data({"prompts": {"41": {"count": 3}}, "latest": "41"})
    assert await ReceivingData.open(state) == ReceivingData()
