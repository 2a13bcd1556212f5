"""An online copy of the journal while the bot runs (SQLite's backup API), verified.

Copying the database file of a running bot is not safe (WAL: the latest commits may live in
``-wal``, a copy may catch a half-written page). The backup API copies every page of one
consistent snapshot; the copy is then checked (``PRAGMA integrity_check``), counted per
table, made a single self-contained file (journal mode DELETE) and only then given its name:
a backup that exists is whole.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.infra.files import PRIVATE_FILE, private_dir
from bot.store.db import Tx
from bot.store.leases import Leases
from bot.store.outbox import Outbox
from bot.store.payments import Payments
from bot.store.updates import Updates

#: What a restore is judged by: every table, counted in the copy.
TABLES = (
    "users",
    "user_prefs",
    "drafts",
    "payments",
    "approvals",
    "approval_cards",
    "outbox",
    "audit",
    "digests",
    "fsm",
    "handovers",
    "handover_write_offs",
)


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    integrity: str
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return self.integrity == "ok"


def backup_path(dest: Path, now: datetime) -> Path:
    """``dest`` itself, or a dated file inside it when it is a folder."""
    if dest.is_dir():
        return dest / f"cashin-{now:%Y%m%d-%H%M%S}.sqlite3"
    return dest


def backup(source: Path, dest: Path, now: datetime) -> BackupReport:
    """Copy the database at ``source`` (running or not) to ``dest``; raise on failure."""
    if not source.is_file():
        raise FileNotFoundError(f"no database at {source}")
    target = backup_path(dest, now)
    if target.exists():
        raise FileExistsError(f"{target} exists: choose another name or folder")
    private_dir(target.parent)
    partial = target.with_name(target.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    os.close(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE))
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)  # all pages in one step: one consistent snapshot
                integrity = str(dst.execute("PRAGMA integrity_check").fetchone()[0])
                present = {
                    str(row[0])
                    for row in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
                if "leases" in present:
                    _without_leases(dst)
                counts = {
                    table: int(dst.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                    for table in TABLES
                    if table in present
                }
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        if integrity != "ok":
            raise RuntimeError(f"the copy failed its integrity check: {integrity}")
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return BackupReport(target, integrity, counts)


def _without_leases(copy: sqlite3.Connection) -> None:
    """Who was sending or delivering what belongs to the processes running then, not to the
    copy: a journal restored from it starts with no leases, so its NEW and PENDING payments
    resume at once (each table through its owner)."""
    tx = Tx(copy)
    copy.execute("BEGIN")
    Payments.release_every(tx)
    Outbox.release_every(tx)
    Updates.forget_unfinished(tx)
    Leases.clear(tx)
    copy.execute("COMMIT")
