"""Handlers get what their words need of the settings as ``view`` (bot/telegram/shared/view.py),
in the reader's language of the update — never the whole Settings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject

from bot.telegram.runtime.i18n import make_i18n
from bot.telegram.runtime.view import ViewMiddleware
from bot.telegram.shared.view import View
from tests.harness import settings_for


async def _view(middleware: ViewMiddleware, data: dict[str, Any]) -> View:
    seen: list[View] = []

    async def handler(event: TelegramObject, data: dict[str, Any]) -> None:
        seen.append(data["view"])

    await middleware(handler, TelegramObject(), data)
    [view] = seen
    return view


async def test_the_view_has_the_settings_facts_and_the_update_s_language(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, "http://127.0.0.1:1", cashin_fee="150", amount_min="500", amount_max="90000"
    )
    middleware = ViewMiddleware(settings)
    i18n = make_i18n("en")
    with i18n.context(), i18n.use_locale("kk"):
        view = await _view(middleware, {"i18n": i18n})
    assert view == View(
        locale="kk",
        tz=settings.tz,
        sandbox=settings.uses_sandbox,
        amount_min=Decimal(500),
        amount_max=Decimal(90000),
        fee=Decimal(150),
        approval_threshold=settings.approval_threshold,
    )
    # Without a locale (no LocaleMiddleware before it): the bot's default language.
    assert (await _view(middleware, {})).locale == settings.default_language == "en"
