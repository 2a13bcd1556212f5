"""Languages: aiogram's gettext I18n over ``locales/``; the user's choice is kept in SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n.middleware import I18nMiddleware

from bot.config.languages import SUPPORTED_LANGUAGES, normalize_language
from bot.usecases.people import People


def locales_path() -> Path:
    """``locales/`` beside the package (a checkout) or inside it (an installed wheel)."""
    here = Path(__file__).resolve().parents[2]  # bot/
    for candidate in (here.parent / "locales", here / "locales"):
        if (candidate / "ru" / "LC_MESSAGES" / "messages.mo").is_file():
            return candidate
    raise RuntimeError(f"compiled translations not found near {here}")


def make_i18n(default_language: str) -> I18n:
    i18n = I18n(path=locales_path(), default_locale=default_language, domain="messages")
    missing = set(SUPPORTED_LANGUAGES) - set(i18n.available_locales)
    if missing:
        raise RuntimeError(f"missing compiled translations: {', '.join(sorted(missing))}")
    return i18n


class LocaleMiddleware(I18nMiddleware):
    """Stored choice, else Telegram's language if we speak it, else DEFAULT_LANGUAGE."""

    def __init__(self, i18n: I18n, people: People) -> None:
        super().__init__(i18n)
        self.people = people

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        if user is None:
            return self.i18n.default_locale
        try:
            stored = await self.people.language(user.id)
        except Exception:  # the journal away: still answered, in the user's own language
            stored = None
        if stored:
            return stored
        guessed = normalize_language(user.language_code or "")
        return guessed or self.i18n.default_locale
