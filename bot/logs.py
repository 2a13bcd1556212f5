"""Logging set-up: text for people, JSON lines for machines, personal data scrubbed.

Code masks logins itself and never logs IINs; :class:`RedactingFilter` is the backstop that
catches what a library (or a mistake) lets through — registered secrets in any encoding, bot
tokens (also inside URLs), PEM blocks, 12-digit IINs, 11-digit logins — in every record's
message, exception text and stack. Uncaught exceptions (main thread, other threads) become
one redacted line: a traceback can carry a URL with the bot token in it.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import TextIO

from bot.redaction import redact

#: Context that handlers and the payment service set; every record carries it.
log_context: ContextVar[dict[str, object] | None] = ContextVar("log_context", default=None)


def bind(**values: object) -> Token[dict[str, object] | None]:
    """Add ``values`` to the log context of this task; ``log_context.reset(token)`` undoes it."""
    return log_context.set({**(log_context.get() or {}), **values})


__all__ = ["bind", "log_context", "redact", "setup_logging"]


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
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
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread


def one_line(exc: BaseException) -> str:
    """An exception as one redacted line: what start-up failures print instead of a traceback."""
    return " ".join(redact(f"{type(exc).__name__}: {exc}").split())


def _uncaught(kind: type[BaseException], exc: BaseException, tb: object) -> None:
    logging.getLogger("bot").critical("stopped by an unexpected error: %s", one_line(exc))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        logging.getLogger("bot").error(
            "thread %s failed: %s",
            args.thread.name if args.thread else "?",
            one_line(args.exc_value),
        )
