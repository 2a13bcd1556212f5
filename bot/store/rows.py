"""Rows to domain objects, by name: one mapper for every table, driven by the dataclass.

A field is read from the column of the same name; a ``Decimal`` field (money) from
``<name>_tiyn``. The stored form is turned into the field's type: tiyn into tenge, ISO text
into aware datetimes, text into enums, 0/1 into bools. Nothing is positional.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, TypeVar

from bot.domain.limits import Usage
from bot.domain.money import from_tiyn
from bot.store.db import Row, Tx, parse_ts, ts

T = TypeVar("T")
_Reader = tuple[str, str, Callable[[Any], Any] | None]  # field, column, conversion


def _conversion(kind: Any) -> Callable[[Any], Any] | None:
    if kind is datetime:
        return parse_ts
    if kind is Decimal:
        return from_tiyn
    if kind is bool:
        return bool
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind
    return None


_READERS: dict[type, tuple[_Reader, ...]] = {}


def _readers(cls: type) -> tuple[_Reader, ...]:
    known = _READERS.get(cls)
    if known is not None:
        return known
    hints = typing.get_type_hints(cls)
    readers: list[_Reader] = []
    for field in fields(cls):
        kind = hints[field.name]
        optional = isinstance(kind, types.UnionType) and type(None) in typing.get_args(kind)
        if optional:
            kind = next(k for k in typing.get_args(kind) if k is not type(None))
        convert = _conversion(kind)
        column = f"{field.name}_tiyn" if kind is Decimal else field.name
        if convert is not None and optional:
            convert = functools.partial(_unless_none, convert)
        readers.append((field.name, column, convert))
    _READERS[cls] = tuple(readers)
    return _READERS[cls]


def _unless_none(convert: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else convert(value)


def columns(cls: type) -> str:
    """The columns that :func:`build` reads for ``cls``, for a SELECT."""
    return ", ".join(column for _field, column, _convert in _readers(cls))


def build(cls: type[T], row: Row) -> T:
    values = {
        name: convert(row[column]) if convert is not None else row[column]
        for name, column, convert in _readers(cls)
    }
    return cls(**values)


UsageColumn = Literal["cashier_id", "login"]


def day_usage(
    tx: Tx,
    table: Literal["payments", "approvals"],
    column: UsageColumn,
    value: object,
    day: tuple[datetime, datetime],
    condition: str,
    params: tuple[object, ...],
) -> Usage:
    """Sum and count of a day's rows of ``table`` by ``column = value`` that meet
    ``condition`` (the daily limits count payments and waiting requests alike)."""
    row = tx.one(
        f"SELECT COALESCE(SUM(amount_tiyn), 0) AS tiyn, COUNT(*) AS n FROM {table} "
        f"WHERE {column} = ? AND created_at >= ? AND created_at < ? AND {condition}",
        (value, ts(day[0]), ts(day[1]), *params),
    )
    assert row is not None
    return Usage(from_tiyn(int(row["tiyn"])), int(row["n"]))
