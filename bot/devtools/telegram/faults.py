"""What the stand-in answers instead of a result: the faults a test injects (:class:`Fault`),
a method's refusal (:class:`ApiError`) and Telegram's JSON shape of either."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass
class Fault:
    """The next ``times`` calls of ``method`` (in ``chat_id``, or any chat) fail so."""

    method: str
    error_code: int
    description: str
    retry_after: int | None = None
    times: int = 1
    chat_id: int | None = None


class ApiError(Exception):
    """A Bot API method refuses the call: Telegram's error code and description."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def error(code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=code
    )


def retry_after(seconds: int) -> web.Response:
    body = {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {seconds}",
        "parameters": {"retry_after": seconds},
    }
    return web.json_response(body, status=429)


def as_int(value: Any) -> int | None:
    """A parameter as Telegram reads an integer (None: absent or not one)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def require_int(params: dict[str, Any], name: str) -> int:
    value = as_int(params.get(name))
    if value is None:
        raise ApiError(400, f"Bad Request: {name} is required")
    return value
