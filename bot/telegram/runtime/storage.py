"""aiogram FSM storage in the bot's database: conversations survive a restart."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)

from bot.domain.clock import utcnow
from bot.infra.outage import PartDown
from bot.store.conversations import Conversations
from bot.store.db import Database, Tx

log = logging.getLogger(__name__)
RETRY_MAX = 30.0  # seconds between attempts to write conversation state, at most
KEPT = 20_000  # conversations kept in memory (the least recently used are read again)


class SQLiteStorage(BaseStorage):
    """Kept in memory for reads, written to the database right after the step that changed
    it: every conversation's changes of the moment go in one transaction (a step's
    ``set_state`` and ``set_data`` — ``clear()`` is both — cost one trip together, and many
    cashiers' steps at once cost one too). A change that changes nothing costs nothing.

    The write is queued when the handler changes the state and runs a moment later
    (``WINDOW``): a crash in between loses that step of the conversation — the cashier types it
    again — never money (payments are the journal's, written before anything is said).
    ``flush()`` at shutdown writes what is left. This process is the database's only
    writer, so the memory copy cannot go stale (see bench/ for the trips it saves).
    """

    def __init__(self, db: Database, key_builder: KeyBuilder | None = None) -> None:
        self.db = db
        self.key_builder = key_builder or DefaultKeyBuilder(with_destiny=True)
        self._cache: dict[str, tuple[str | None, str]] = {}
        self._dirty: dict[str, tuple[str | None, str]] = {}
        self._writer: asyncio.Task[None] | None = None

    #: Seconds a change waits for others to share its transaction (busy hours: many
    #: cashiers' steps in one write).
    WINDOW = 0.002

    async def _load(self, key: str) -> tuple[str | None, str]:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        loaded = await self.db.read(lambda tx: Conversations.load(tx, key))
        self._cache[key] = loaded
        writing = self._dirty or (self._writer is not None and not self._writer.done())
        if len(self._cache) > KEPT and not writing:  # a flood of strangers stays bounded
            for old in list(self._cache)[: KEPT // 10]:  # the oldest loaded first
                del self._cache[old]
        return loaded

    async def _save(self, key: str, state: str | None, data: str) -> None:
        if await self._load(key) == (state, data):
            return
        self._cache[key] = self._dirty[key] = (state, data)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="conversation state")

    async def _write(self) -> None:
        """Write every pending change, in one transaction per round, until none is left.
        Changes made within ``WINDOW`` of the first go in the same transaction."""
        await asyncio.sleep(self.WINDOW)
        failures = 0
        while self._dirty:
            batch, self._dirty = self._dirty, {}
            try:
                await self.db.write(functools.partial(_save_all, batch), durable=False)
                failures = 0
            except Exception as exc:
                # Kept for the next round (a newer change of the same key wins), retried
                # with backoff; the memory copy serves meanwhile.
                self._dirty = {**batch, **self._dirty}
                failures += 1
                away = isinstance(exc, PartDown)  # said once by the journal itself
                delay = min(2.0 if away else RETRY_MAX, self.WINDOW * 2**failures)
                if not away:
                    log.exception(
                        "conversation state: %d change(s) not written; retrying in %.1f s",
                        len(batch),
                        delay,
                    )
                await asyncio.sleep(delay)

    async def flush(self) -> None:
        """Write what is pending (at shutdown, before the database closes)."""
        if self._writer is not None:
            await self._writer
        if self._dirty:
            await self._write()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        built = self.key_builder.build(key)
        _state, data = await self._load(built)
        await self._save(built, value, data)

    async def get_state(self, key: StorageKey) -> str | None:
        state, _data = await self._load(self.key_builder.build(key))
        return state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        built = self.key_builder.build(key)
        state, _data = await self._load(built)
        await self._save(built, state, json.dumps(dict(data), ensure_ascii=False))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        _state, text = await self._load(self.key_builder.build(key))
        data = json.loads(text)
        return data if isinstance(data, dict) else {}

    async def close(self) -> None:
        """The database belongs to the application; it closes it after :meth:`flush`."""
        await self.flush()


def _save_all(batch: dict[str, tuple[str | None, str]], tx: Tx) -> None:
    now = utcnow()
    for key, (state, data) in batch.items():
        Conversations.save(tx, key, state, data, now)
