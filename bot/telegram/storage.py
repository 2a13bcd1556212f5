"""aiogram FSM storage in the bot's SQLite database: conversations survive a restart."""

from __future__ import annotations

import json
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

from bot.payments.db import Database


class SQLiteStorage(BaseStorage):
    """Write-through: every change is committed first, then kept in memory for reads.

    This process is the database's only writer, so the memory copy cannot go stale; it saves
    the thread round trips of reading state and data on every update (see bench/).
    """

    def __init__(self, db: Database, key_builder: KeyBuilder | None = None) -> None:
        self.db = db
        self.key_builder = key_builder or DefaultKeyBuilder(with_destiny=True)
        self._cache: dict[str, tuple[str | None, str]] = {}

    async def _load(self, key: str) -> tuple[str | None, str]:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        async with (
            self.db.read() as conn,
            conn.execute("SELECT state, data FROM fsm WHERE key = ?", (key,)) as cur,
        ):
            row = await cur.fetchone()
        loaded = (row[0], str(row[1])) if row else (None, "{}")
        self._cache[key] = loaded
        return loaded

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        built = self.key_builder.build(key)
        _state, data = await self._load(built)
        async with self.db.tx(durable=False) as conn:
            await conn.execute(
                "INSERT INTO fsm (key, state) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET state = excluded.state",
                (built, value),
            )
        self._cache[built] = (value, data)

    async def get_state(self, key: StorageKey) -> str | None:
        state, _data = await self._load(self.key_builder.build(key))
        return state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        built = self.key_builder.build(key)
        state, _data = await self._load(built)
        text = json.dumps(dict(data), ensure_ascii=False)
        async with self.db.tx(durable=False) as conn:
            await conn.execute(
                "INSERT INTO fsm (key, data) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                (built, text),
            )
        self._cache[built] = (state, text)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        _state, text = await self._load(self.key_builder.build(key))
        data = json.loads(text)
        return data if isinstance(data, dict) else {}

    async def close(self) -> None:
        """The database belongs to the application; it closes it."""
