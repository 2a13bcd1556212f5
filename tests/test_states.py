"""Conversation data is typed (each feature's ``states.py`` under bot/telegram/): what storage
gives back is checked field by field, and the stored form stays the dict earlier versions
wrote."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from bot.telegram.approvals.states import RejectReasonData
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
