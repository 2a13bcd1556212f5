"""Who may use the bot (table ``users``) and the language each person chose (``user_prefs``).

Every update asks who the person is and which language they chose, so both are cached in
memory. The cache is filled and dropped by the functions that run on the database thread,
in the order the database runs them: a read that raced a write can never leave a stale
entry behind (the next instance-shared backend replaces this with its own invalidation).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.domain.model import Role, RosterChange, StaffUser
from bot.store.db import Row, Tx, ts

_MISSING = object()
_LANGUAGES_KEPT = 10_000
_COLUMNS = "user_id, role, name, blocked"


def _staff(row: Row) -> StaffUser:
    return StaffUser(int(row["user_id"]), Role(row["role"]), row["name"], bool(row["blocked"]))


class Roster:
    def __init__(self, *, cache: bool = True) -> None:
        """``cache``: keep people and languages in memory — right while this process is the
        roster's only writer; several instances (one changes, another reads) read it each
        time instead, so a /block on one is refused on every other at the next update."""
        self._cache = cache
        self._users: dict[int, StaffUser] = {}  # strangers are never cached: a flood costs nothing
        self._languages: dict[int, str | None] = {}

    # ------------------------------------------------------------------ cache

    def cached_user(self, user_id: int) -> StaffUser | object | None:
        """The cached entry, or ``MISSING`` (then read it with :meth:`get`)."""
        return self._users.get(user_id, _MISSING) if self._cache else _MISSING

    def cached_language(self, user_id: int) -> str | object | None:
        return self._languages.get(user_id, _MISSING) if self._cache else _MISSING

    MISSING = _MISSING

    def _changed(self, user_id: int | None = None) -> None:
        """Drop the cached entry of ``user_id`` (None: everyone's)."""
        if user_id is None:
            self._users.clear()
        else:
            self._users.pop(user_id, None)

    # ------------------------------------------------------------------ reads

    def get(self, tx: Tx, user_id: int) -> StaffUser | None:
        row = tx.one(
            f"SELECT {_COLUMNS} FROM users WHERE user_id = ? AND removed_at IS NULL", (user_id,)
        )
        user = _staff(row) if row else None
        if user is not None:
            self._users[user_id] = user
        return user

    @staticmethod
    def active(tx: Tx, user_id: int) -> bool:
        """On the roster and not blocked, as this transaction sees it."""
        return (
            tx.value(
                "SELECT 1 FROM users WHERE user_id = ? AND removed_at IS NULL AND blocked = 0",
                (user_id,),
            )
            is not None
        )

    @staticmethod
    def listing(tx: Tx) -> list[StaffUser]:
        rows = tx.all(
            f"SELECT {_COLUMNS} FROM users WHERE removed_at IS NULL "
            "ORDER BY CASE role WHEN 'admin' THEN 0 WHEN 'supervisor' THEN 1 ELSE 2 END, user_id"
        )
        return [_staff(r) for r in rows]

    @staticmethod
    def names(tx: Tx) -> dict[int, str]:
        """Everyone the roster ever knew (removed people still name their old payments)."""
        rows = tx.all("SELECT user_id, name FROM users WHERE name IS NOT NULL")
        return {int(r["user_id"]): str(r["name"]) for r in rows}

    @staticmethod
    def deciders(tx: Tx) -> list[int]:
        """Who may decide approval requests in their private chat: active supervisors and
        admins (nobody decides their own request: the caller leaves the requester out)."""
        rows = tx.all(
            "SELECT user_id FROM users WHERE role IN (?, ?) AND blocked = 0 "
            "AND removed_at IS NULL ORDER BY user_id",
            (Role.SUPERVISOR.value, Role.ADMIN.value),
        )
        return [int(r["user_id"]) for r in rows]

    @staticmethod
    def guard(
        tx: Tx, user_id: int, role: Role, configured_admins: Iterable[int]
    ) -> RosterChange | None:
        """Why someone may not lose access (removed, demoted, blocked), or None: the one rule.
        An admin from ``ADMIN_IDS`` would come back at the next start; the last admin would
        leave the bot without one."""
        if role is not Role.ADMIN:
            return None
        if user_id in set(configured_admins):
            return RosterChange.CONFIGURED_ADMIN
        row = tx.one(
            "SELECT COUNT(*) AS admins, SUM(CASE WHEN user_id = ? THEN 1 ELSE 0 END) AS this_one "
            "FROM users "
            "WHERE role = 'admin' AND removed_at IS NULL AND blocked = 0",
            (user_id,),
        )
        if row is not None and row["this_one"] and int(row["admins"]) <= 1:
            return RosterChange.LAST_ADMIN
        return None

    # ------------------------------------------------------------------ writes

    def seed(
        self, tx: Tx, now: datetime, admins: Iterable[int], others: dict[int, Role]
    ) -> list[tuple[int, Role]]:
        """Admins always (back to admin if changed); others only if never seen. Returns
        who was written."""
        written: list[tuple[int, Role]] = []
        stamp = ts(now)
        for user_id in admins:
            if tx.run(
                "INSERT INTO users (user_id, role, created_at, updated_at) "
                "VALUES (?, 'admin', ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                "role = 'admin', removed_at = NULL, updated_at = excluded.updated_at "
                "WHERE users.role != 'admin' OR users.removed_at IS NOT NULL",
                (user_id, stamp, stamp),
            ):
                written.append((user_id, Role.ADMIN))
        for user_id, role in others.items():
            if tx.run(
                "INSERT INTO users (user_id, role, created_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id) DO NOTHING",
                (user_id, role.value, stamp, stamp),
            ):
                written.append((user_id, role))
        self._changed()
        return written

    def set_role(self, tx: Tx, now: datetime, user_id: int, role: Role, name: str | None) -> None:
        """Add, re-add after removal, or change the role (a name given replaces the old)."""
        stamp = ts(now)
        tx.run(
            "INSERT INTO users (user_id, role, name, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, "
            "name = COALESCE(excluded.name, users.name), removed_at = NULL, "
            "updated_at = excluded.updated_at",
            (user_id, role.value, name or None, stamp, stamp),
        )
        self._changed(user_id)

    def rename(
        self,
        tx: Tx,
        user_id: int,
        name: str,
        *,
        only_if_unnamed: bool = False,
        now: datetime | None = None,
    ) -> None:
        """A name for the person: the admin's (``now``: when, a change of the roster), or
        their Telegram name while the admin gave none (``only_if_unnamed``)."""
        where = " AND name IS NULL" if only_if_unnamed else ""
        if now is None:
            tx.run(f"UPDATE users SET name = ? WHERE user_id = ?{where}", (name, user_id))
        else:
            tx.run(
                f"UPDATE users SET name = ?, updated_at = ? WHERE user_id = ?{where}",
                (name, ts(now), user_id),
            )
        self._changed(user_id)

    def remove(self, tx: Tx, now: datetime, user_id: int) -> None:
        """Soft removal: old payments keep the person's name."""
        stamp = ts(now)
        tx.run(
            "UPDATE users SET removed_at = ?, updated_at = ? WHERE user_id = ?",
            (stamp, stamp, user_id),
        )
        self._changed(user_id)

    def set_blocked(self, tx: Tx, now: datetime, user_id: int, blocked: bool) -> None:
        tx.run(
            "UPDATE users SET blocked = ?, updated_at = ? WHERE user_id = ?",
            (int(blocked), ts(now), user_id),
        )
        self._changed(user_id)

    # ------------------------------------------------------------------ languages

    def language(self, tx: Tx, user_id: int) -> str | None:
        value = tx.value("SELECT language FROM user_prefs WHERE user_id = ?", (user_id,))
        language = str(value) if value is not None else None
        if len(self._languages) >= _LANGUAGES_KEPT:  # a flood of strangers stays bounded
            self._languages.clear()
        self._languages[user_id] = language
        return language

    def set_language(self, tx: Tx, user_id: int, language: str) -> None:
        tx.run(
            "INSERT INTO user_prefs (user_id, language) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET language = excluded.language",
            (user_id, language),
        )

    def remember_language(self, user_id: int, language: str) -> None:
        """After :meth:`set_language` committed."""
        self._languages[user_id] = language
