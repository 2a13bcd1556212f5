"""Conversations that a rerun of an update does not confuse.

An update is handled again after a crash (:mod:`bot.telegram.runtime.intake`). Its first
handling may have moved the conversation on (a step's ``set_state`` reaches Redis at once)
and died before its reply: the rerun would then meet the next step's state — a login read as
an amount.

So the first change an update makes to a conversation first records where the conversation
was and which update moved it (one record per conversation, overwritten by the next). A rerun
of that same update puts the conversation back there and is handled as the first time was;
a rerun of an update whose conversation a later update has moved since is skipped — the
person has gone on, and the journal's own rules keep anything it did (drafts, the confirm's
claim, GUIDs) from happening twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from aiogram.types import TelegramObject, Update

#: The workflow-data key the intake sets on a rerun (the attempt: 2, 3, …).
RERUN = "rerun"
_SNAPSHOT = "rerun-snapshot"  # the record's destiny: beside the conversation's own key


@dataclass
class _Handling:
    update_id: int
    recorded: set[StorageKey] = field(default_factory=set)


_handling: ContextVar[_Handling | None] = ContextVar("update_handling", default=None)


def _snapshot_key(key: StorageKey) -> StorageKey:
    return replace(key, destiny=_SNAPSHOT)


class RerunSafeStorage(BaseStorage):
    """Wraps the real storage. Inside an update's handling, the first change to a
    conversation records its state before; outside (the outbox, use cases) it only writes."""

    def __init__(self, inner: BaseStorage) -> None:
        self.inner = inner

    async def _record(self, key: StorageKey) -> None:
        handling = _handling.get()
        if handling is None or key in handling.recorded or key.destiny == _SNAPSHOT:
            return
        handling.recorded.add(key)
        before = {
            "update_id": handling.update_id,
            "state": await self.inner.get_state(key),
            "data": await self.inner.get_data(key),
        }
        await self.inner.set_data(_snapshot_key(key), before)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._record(key)
        await self.inner.set_state(key, state.state if isinstance(state, State) else state)

    async def get_state(self, key: StorageKey) -> str | None:
        return await self.inner.get_state(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._record(key)
        await self.inner.set_data(key, data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return await self.inner.get_data(key)

    async def close(self) -> None:
        await self.inner.close()

    async def rewind(self, key: StorageKey, update_id: int) -> bool:
        """Before a rerun of ``update_id``: put the conversation back where that update found
        it, if it moved it; False if a later update has moved it since (skip the rerun)."""
        before = await self.inner.get_data(_snapshot_key(key))
        moved_by = before.get("update_id")
        if not isinstance(moved_by, int) or moved_by < update_id:
            return True  # its first handling changed nothing here
        if moved_by > update_id:
            return False
        await self.inner.set_state(key, before.get("state"))
        await self.inner.set_data(key, before.get("data") or {})
        return True


class RerunMiddleware(BaseMiddleware):
    """An outer middleware on ``dispatcher.update``, inside the person's isolation lock."""

    def __init__(self, storage: RerunSafeStorage) -> None:
        self.storage = storage

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        context: FSMContext | None = data.get("state")
        if data.get(RERUN) and context is not None:
            if not await self.storage.rewind(context.key, event.update_id):
                return UNHANDLED  # the person has gone on since
            data["raw_state"] = await context.get_state()  # read before the rewind
        token = _handling.set(_Handling(event.update_id))
        try:
            return await handler(event, data)
        finally:
            _handling.reset(token)
