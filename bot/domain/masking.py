"""Personal data as people and logs may see it."""

from __future__ import annotations


def mask_iin(iin: str) -> str:
    return "•" * 8 + iin[-4:]


def mask_login(login: str) -> str:
    """``77010000001`` → ``7701***0001``: enough to tell clients apart, not to reuse."""
    if len(login) <= 8:
        return "***"
    return f"{login[:4]}***{login[-4:]}"
