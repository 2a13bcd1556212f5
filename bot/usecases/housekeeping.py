"""Daily housekeeping: what is done is pruned, and (optionally) the journal is backed up.

Pruned, once older than ``PRUNE_AFTER_DAYS``: delivered outbox rows, cancelled drafts nothing
refers to, and idle conversation state. Kept for ever: payments, approvals, the audit trail
(and the drafts payments and approvals came from). With ``BACKUP_DIR`` a verified copy of the
journal is made there every day and the newest ``BACKUP_KEEP`` are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path

from bot.domain.clock import utcnow
from bot.infra.loops import BackgroundLoop
from bot.store.backup import backup
from bot.store.conversations import Conversations
from bot.store.db import Database, Tx
from bot.store.drafts import Drafts
from bot.store.leases import Leases
from bot.store.outbox import Outbox

log = logging.getLogger(__name__)

#: Local time of the daily run: the quietest hour of a cash-in agent's day.
HOUSEKEEPING_AT = time(4, 0)


@dataclass(frozen=True, slots=True)
class Pruned:
    outbox: int
    drafts: int
    conversations: int


class Housekeeping(BackgroundLoop):
    name = "housekeeping"

    def __init__(
        self,
        db: Database,
        tz: tzinfo,
        *,
        prune_after: timedelta | None,
        backup_dir: Path | None = None,
        backup_keep: int = 7,
        instance: str = "local",
        clock: Callable[[], datetime] = utcnow,
        idle: float = 3600.0,
    ) -> None:
        super().__init__(clock=clock, idle=idle)
        self.db = db
        self.tz = tz
        self.prune_after = prune_after
        self.backup_dir = backup_dir
        self.backup_keep = backup_keep
        self._done: date | None = None
        #: The day's work is done by one instance however many share the journal: the one
        #: that holds this lease until the next 04:00 (a restarted one holds its own again).
        self.instance = instance

    async def prune(self, now: datetime) -> Pruned:
        """One transaction; each table by its owner."""
        assert self.prune_after is not None
        before = now - self.prune_after

        def prune(tx: Tx) -> Pruned:
            return Pruned(
                Outbox.prune(tx, before), Drafts.prune(tx, before), Conversations.prune(tx, before)
            )

        return await self.db.write(prune, durable=False, slow=True)

    async def daily_backup(self, now: datetime) -> Path:
        """A verified copy in ``backup_dir``; the newest ``backup_keep`` copies stay."""
        assert self.backup_dir is not None
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        if self.db.path is None:
            raise RuntimeError("backups copy SQLite only (PostgreSQL: pg_dump)")
        report = await asyncio.to_thread(backup, self.db.path, self.backup_dir, now)
        copies = sorted(self.backup_dir.glob("cashin-*.sqlite3"))
        for old in copies[: max(0, len(copies) - self.backup_keep)]:
            old.unlink()
        return report.path

    def _due_day(self, now: datetime) -> date:
        local = now.astimezone(self.tz)
        moment = datetime.combine(local.date(), HOUSEKEEPING_AT, tzinfo=self.tz)
        return local.date() if now >= moment else local.date() - timedelta(days=1)

    async def run_once(self) -> int:
        now = self._clock()
        day = self._due_day(now)
        if self._done is not None and self._done >= day:
            return 0
        until = datetime.combine(day + timedelta(days=1), HOUSEKEEPING_AT, tzinfo=self.tz)
        holder = await self.db.write(
            lambda tx: Leases.take(tx, now, "housekeeping", self.instance, until), durable=False
        )
        # Only now: a journal that did not answer leaves the day to the next pass.
        self._done = day
        if holder is not None:
            log.info("housekeeping: done today by %s", holder)
            return 0
        if self.prune_after is not None:
            try:
                pruned = await self.prune(now)
            except Exception:
                # Not done: the day's lease goes back, and the next pass tries again.
                self._done = None
                with contextlib.suppress(Exception):
                    await self.db.write(
                        lambda tx: Leases.release(tx, "housekeeping", self.instance),
                        durable=False,
                    )
                raise
            log.info(
                "housekeeping: pruned %d outbox rows, %d drafts, %d conversations",
                pruned.outbox,
                pruned.drafts,
                pruned.conversations,
            )
        if self.backup_dir is not None:
            try:
                path = await self.daily_backup(now)
            except Exception:
                log.exception("housekeeping: the daily backup failed")
            else:
                log.info("housekeeping: backup at %s", path)
        return 1

    async def next_due(self) -> datetime | None:
        now = self._clock()
        local = now.astimezone(self.tz)
        moment = datetime.combine(local.date(), HOUSEKEEPING_AT, tzinfo=self.tz)
        if self._done is None or self._done < self._due_day(now):
            return now
        return moment if moment > now else moment + timedelta(days=1)
