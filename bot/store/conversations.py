"""Conversation state (table ``fsm``): aiogram's FSM state and data, by storage key."""

from __future__ import annotations

from datetime import datetime

from bot.store.db import Tx, ts


class Conversations:
    @staticmethod
    def load(tx: Tx, key: str) -> tuple[str | None, str]:
        row = tx.one("SELECT state, data FROM fsm WHERE key = ?", (key,))
        return (row["state"], str(row["data"])) if row else (None, "{}")

    @staticmethod
    def save(tx: Tx, key: str, state: str | None, data: str, now: datetime) -> None:
        tx.run(
            "INSERT INTO fsm (key, state, data, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET state = excluded.state, data = excluded.data, "
            "updated_at = excluded.updated_at",
            (key, state, data, ts(now)),
        )

    @staticmethod
    def prune(tx: Tx, before: datetime) -> int:
        """Conversations idle since before ``before``: a step left weeks ago starts anew."""
        return tx.run("DELETE FROM fsm WHERE updated_at < ?", (ts(before),))
