"""The language picker's buttons' data."""

from __future__ import annotations

from typing import Literal

from aiogram.filters.callback_data import CallbackData


class LangCb(CallbackData, prefix="l"):
    code: Literal["ru", "kk", "en"]
