"""Which database ``DATABASE_URL`` names: SQLite (:mod:`bot.store.sqlite`) or PostgreSQL
(:mod:`bot.store.postgres`, loaded only then). Apart from both, so neither imports the other's
chooser."""

from __future__ import annotations

from pathlib import Path

from bot.infra.redaction import is_postgres_url
from bot.store.db import Database
from bot.store.sqlite import SqliteDatabase


def open_database(url: str) -> Database:
    """The database ``DATABASE_URL`` names (not opened yet): ``sqlite:///path`` or
    ``postgresql://…``."""
    if is_postgres_url(url):
        from bot.store.postgres import PostgresDatabase  # SQLite alone never loads psycopg

        return PostgresDatabase(url)
    return SqliteDatabase(Path(url.removeprefix("sqlite:///")))
