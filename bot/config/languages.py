"""The languages the bot speaks, and what people and Telegram call them."""

from __future__ import annotations

SUPPORTED_LANGUAGES = ("ru", "kk", "en")
# People type "kz" for Kazakh; the ISO 639-1 code Telegram and Allpay use is "kk".
LANGUAGE_ALIASES = {"kz": "kk", "kaz": "kk", "rus": "ru", "eng": "en"}


def normalize_language(value: str) -> str | None:
    """Return ``ru``/``kk``/``en`` for what a person or Telegram gives, or None."""
    code = value.strip().lower().replace("_", "-").split("-")[0]
    code = LANGUAGE_ALIASES.get(code, code)
    return code if code in SUPPORTED_LANGUAGES else None


def language(value: str) -> str:
    """A setting's language (``DEFAULT_LANGUAGE``): one of ours, by any of its names."""
    code = normalize_language(value)
    if code is None:
        raise ValueError(f"must be one of {', '.join(SUPPORTED_LANGUAGES)} (got {value!r})")
    return code
