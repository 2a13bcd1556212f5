"""The audit trail (table ``audit``): who did what, when. Append-only."""

from __future__ import annotations

from datetime import datetime

from bot.domain.model import AuditEntry
from bot.redaction import redact_error
from bot.store.db import Tx, parse_ts, ts


class AuditLog:
    @staticmethod
    def add(
        tx: Tx,
        now: datetime,
        actor_id: int | None,
        action: str,
        subject: str | None,
        detail: str | None = None,
    ) -> None:
        tx.run(
            "INSERT INTO audit (at, actor_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            (ts(now), actor_id, action, subject, redact_error(detail)),
        )

    @staticmethod
    def latest(tx: Tx, limit: int) -> list[AuditEntry]:
        """The latest entries, newest first."""
        rows = tx.all(
            "SELECT at, actor_id, action, subject, detail FROM audit ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            AuditEntry(parse_ts(r["at"]), r["actor_id"], r["action"], r["subject"], r["detail"])
            for r in rows
        ]
