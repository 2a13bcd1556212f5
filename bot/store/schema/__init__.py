"""The schema, one text per dialect: :mod:`bot.store.schema.sqlite` and
:mod:`bot.store.schema.postgres`, each every migration in order, number for number. Neither
is derived from the other; ``tests/test_db.py`` migrates both from empty and from every
earlier version and compares what they made."""

from __future__ import annotations

from collections.abc import Callable

from bot.store.audit import convert_legacy
from bot.store.db import Tx
from bot.store.schema import postgres, sqlite

#: The schema this bot writes: a database at a newer one is refused, an older one migrated.
VERSION = len(sqlite.MIGRATIONS)
assert len(postgres.MIGRATIONS) == VERSION, "a migration is missing in one dialect"

#: What a migration does to the rows it finds, after its text and in its transaction, on
#: either backend (the repositories' SQL): by number.
CONVERSIONS: dict[int, Callable[[Tx], object]] = {
    12: convert_legacy,  # audit details written as sentences get their fields
}
