"""Conversation state (table ``fsm``): aiogram's FSM state and data, by storage key."""

from __future__ import annotations

from bot.store.db import Tx


class Conversations:
    @staticmethod
    def load(tx: Tx, key: str) -> tuple[str | None, str]:
        row = tx.one("SELECT state, data FROM fsm WHERE key = ?", (key,))
        return (row["state"], str(row["data"])) if row else (None, "{}")

    @staticmethod
    def save(tx: Tx, key: str, state: str | None, data: str) -> None:
        tx.run(
            "INSERT INTO fsm (key, state, data) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET state = excluded.state, data = excluded.data",
            (key, state, data),
        )
