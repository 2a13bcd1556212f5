"""Logging set-up: text for people, JSON lines for machines, personal data scrubbed.

Code masks logins itself and never logs IINs; :class:`RedactingFilter` is the backstop that
catches what a library (or a mistake) lets through: 11-digit logins, 12-digit IINs, bot tokens
and PEM blocks.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import TextIO

from bot.allpay.protocol import mask_login

#: Context that handlers and the payment service set; every record carries it.
log_context: ContextVar[dict[str, object] | None] = ContextVar("log_context", default=None)


def bind(**values: object) -> Token[dict[str, object] | None]:
    """Add ``values`` to the log context of this task; ``log_context.reset(token)`` undoes it."""
    return log_context.set({**(log_context.get() or {}), **values})


_LOGIN = re.compile(r"(?<![\d\-{])(?:\+?7|8)(\d{10})(?!\d)")
_IIN = re.compile(r"(?<![\d\-])\d{12}(?![\d\-])")
_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b")
_PEM = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S)


def redact(text: str) -> str:
    text = _PEM.sub("<key redacted>", text)
    text = _TOKEN.sub("<token redacted>", text)
    text = _IIN.sub("<iin redacted>", text)
    return _LOGIN.sub(lambda m: mask_login("7" + m.group(1)), text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if clean != message or record.args:
            record.msg = clean
            record.args = None
        context = log_context.get()
        if context:
            for key, value in context.items():
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    _CONTEXT_KEYS = ("guid", "cashier_id", "update_id")

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in self._CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        if record.exc_text:
            data["exception"] = record.exc_text
        elif record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLevelName(level)))
