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
    def __init__(self, db: Database, key_builder: KeyBuilder | None = None) -> None:
        self.db = db
        self.key_builder = key_builder or DefaultKeyBuilder(with_destiny=True)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        async with self.db.tx() as conn:
            await conn.execute(
                "INSERT INTO fsm (key, state) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET state = excluded.state",
                (self.key_builder.build(key), value),
            )

    async def get_state(self, key: StorageKey) -> str | None:
        async with (
            self.db.read() as conn,
            conn.execute(
                "SELECT state FROM fsm WHERE key = ?", (self.key_builder.build(key),)
            ) as cur,
        ):
            row = await cur.fetchone()
        return str(row[0]) if row and row[0] is not None else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        async with self.db.tx() as conn:
            await conn.execute(
                "INSERT INTO fsm (key, data) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                (self.key_builder.build(key), json.dumps(dict(data), ensure_ascii=False)),
            )

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with (
            self.db.read() as conn,
            conn.execute(
                "SELECT data FROM fsm WHERE key = ?", (self.key_builder.build(key),)
            ) as cur,
        ):
            row = await cur.fetchone()
        if not row:
            return {}
        data = json.loads(row[0])
        return data if isinstance(data, dict) else {}

    async def close(self) -> None:
        """The database belongs to the application; it closes it."""
