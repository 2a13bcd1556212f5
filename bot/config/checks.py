"""How one setting's text is read and checked, one function per kind of value: the
:class:`~bot.config.settings.Settings` fields carry them (pydantic's ``BeforeValidator`` and
``AfterValidator``). A ``ValueError``'s text becomes the line that names the variable; rules
that weigh several settings together are the model's own (``Settings._consistency``)."""

from __future__ import annotations

import re
from datetime import time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr

from bot.infra.redaction import is_postgres_url


def id_list(value: Any) -> Any:
    """Telegram ids, as ``1,2`` or ``1;2`` (blanks skipped), or one number."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace(";", ",").split(",")]
        return [p for p in parts if p]
    if isinstance(value, int):
        return [value]
    return value


def timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def digest_time(value: Any) -> Any:
    """``HH:MM`` local time, or ``off`` (also blank, ``none``, ``0``): None."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "off", "none", "0"):
            return None
        hours, sep, minutes = text.partition(":")
        if not sep or not hours.isdigit() or not minutes.isdigit():
            raise ValueError("must be HH:MM local time, or 'off'")
        if not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
            raise ValueError("must be HH:MM local time, or 'off'")
        return time(int(hours), int(minutes))
    return value


def off_or_amount(value: Any) -> Any:
    """An amount, or ``off`` (also blank, ``none``, ``0``): None."""
    if isinstance(value, str):
        text = value.strip().replace(" ", "").replace(",", ".")
        return None if text.lower() in ("", "off", "none") or text.strip("0.") == "" else text
    if value == 0:
        return None
    return value


def legal_name(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return " ".join(value.split())[:120]


def bin_number(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) != 12 or not value.isdigit():
        raise ValueError("a BIN is 12 digits")
    return value


def webhook_secret(value: SecretStr | None) -> SecretStr | None:
    if value is None or not value.get_secret_value():
        return None
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", value.get_secret_value()):
        raise ValueError("must be 16-256 characters of A-Z, a-z, 0-9, _ and -")
    return value


def url(value: str | None) -> str | None:
    if value is None or value.strip() == "":
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.strip()


def webapp_url(value: str | None) -> str | None:
    """The desk's public address: https:// (Telegram opens Mini Apps only there), with no
    query or fragment (Telegram appends its own launch data), on a path of its own."""
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    if not value.startswith("https://"):
        raise ValueError("must be an https:// URL (Telegram opens Mini Apps only over HTTPS)")
    parts = urlsplit(value)
    if not parts.hostname or parts.query or parts.fragment:
        raise ValueError("must be an https:// URL with a host, and no ?query or #fragment")
    if (parts.path or "/").rstrip("/") == "":
        raise ValueError("must have a path of its own (e.g. https://bot.example.com/desk/)")
    return value


def database_url(value: str) -> str:
    if is_postgres_url(value):
        # Never echo the URL: it may carry the password.
        parts = urlsplit(value)
        if "@" in parts.netloc.rpartition("@")[0]:
            raise ValueError("percent-encode an @ in the user or password as %40")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("its port is not a number from 1 to 65535") from None
        if not parts.hostname and "host=" not in parts.query:
            raise ValueError("must name the server: postgresql://user@host:5432/database")
        return value
    if not value.startswith("sqlite:///") or value == "sqlite:///":
        raise ValueError(
            "must look like sqlite:///relative/path, sqlite:////absolute/path "
            "or postgresql://user@host:5432/database"
        )
    return value


def bot_token(value: SecretStr | None) -> SecretStr | None:
    if value is None or not value.get_secret_value():
        return None
    left, sep, right = value.get_secret_value().partition(":")
    if not sep or not left.isdigit() or not right or any(c.isspace() for c in right):
        raise ValueError("is not a Telegram bot token (digits:secret)")
    return value
