"""Logging set-up: text for people, JSON lines for machines, personal data scrubbed.

Code masks logins itself and never logs IINs; :class:`RedactingFilter` is the backstop that
catches what a library (or a mistake) lets through — registered secrets in any encoding, bot
tokens (also inside URLs), PEM blocks, 12-digit IINs, logins in every form the bot writes
them (``77000000001``, ``+7 700 000 00 01``, ``8 700 …``) — in every record's message,
exception text and stack. Every record is one line: line breaks in a message or an exception
(a forged text from outside) become " | ", so nothing can write a log line of its own.

Exceptions are described by :func:`describe_error`, never by their repr: an aiogram
exception's repr or text can carry Telegram's whole answer (people's messages, clients'
names and logins). Uncaught exceptions (main thread, other threads) become one redacted
line: a traceback can carry a URL with the bot token in it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Mapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from bot.infra.redaction import redact, single_line

if TYPE_CHECKING:
    from types import ModuleType

#: Context that handlers and the payment service set; every record carries it.
log_context: ContextVar[dict[str, object] | None] = ContextVar("log_context", default=None)

#: The longest description of one exception (a log line stays readable).
DESCRIPTION_LIMIT = 500
_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"
#: Python 3.11's pointers under a frame's code line (``^^^^``): noise on one line.
_CARETS = re.compile(r"^\s*[\^~]+\s*$")


def bind(**values: object) -> Token[dict[str, object] | None]:
    """Add ``values`` to the log context of this task; ``log_context.reset(token)`` undoes it."""
    return log_context.set({**(log_context.get() or {}), **values})


__all__ = ["bind", "describe_error", "log_context", "log_times_in", "redact", "setup_logging"]


def describe_error(exc: BaseException, limit: int = DESCRIPTION_LIMIT) -> str:
    """One safe line about ``exc`` for a log or a stored error: its type and what it says,
    secrets removed, IINs removed, logins masked (spaced ones too), line breaks gone, at most
    ``limit`` characters.

    aiogram's exceptions are never shown by their repr, and Telegram's answer never at all:
    a :class:`~aiogram.exceptions.ClientDecodeError` is its message and what failed to
    decode (the fields pydantic missed, never their values); a Bot API error is its method
    and Telegram's short description."""
    what = _what(exc)
    text = f"{type(exc).__name__}: {what}" if what else type(exc).__name__
    return single_line(redact(text))[:limit]


def _what(exc: BaseException) -> str:
    # aiogram's exceptions exist only once aiogram is loaded: the commands that never talk to
    # Telegram (health, backup, --help, a settings error) start without its ~450 models.
    aiogram: ModuleType | None = sys.modules.get("aiogram.exceptions")
    if aiogram is not None and isinstance(exc, aiogram.AiogramError):
        return _aiogram_what(exc, aiogram)
    if isinstance(exc, ValidationError):
        return _invalid(exc)
    if isinstance(exc, BaseExceptionGroup):
        parts = "; ".join(describe_error(inner, 160) for inner in exc.exceptions[:3])
        more = len(exc.exceptions) - 3
        return f"{exc.message}: {parts}" + (f"; and {more} more" if more > 0 else "")
    return str(exc)


def _aiogram_what(exc: Any, aiogram: ModuleType) -> str:
    if isinstance(exc, aiogram.ClientDecodeError):
        return f"{exc.message} ({_decoding(exc.original)}; Telegram's answer not shown)"
    if isinstance(exc, aiogram.TelegramAPIError):
        return f"{type(exc.method).__name__}: {exc.message}"
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) else ""


def _decoding(original: BaseException) -> str:
    """Why an answer did not decode, without a word of the answer itself."""
    if isinstance(original, ValidationError):
        return _invalid(original)
    if isinstance(original, json.JSONDecodeError):  # a position, no content
        return f"{type(original).__name__}: {original.msg} at {original.pos}"
    return type(original).__name__


def _invalid(error: ValidationError) -> str:
    """A pydantic error by the fields it names and its kind: never the input's values."""
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    shown = [
        f"{'.'.join(str(part) for part in problem['loc']) or '(root)'}: {problem['type']}"
        for problem in problems[:3]
    ]
    more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
    return f"{error.error_count()} invalid in {error.title}: {', '.join(shown)}{more}"


def exception_text(exc: BaseException) -> str:
    """A traceback of ``exc`` and its causes as Python prints one, but each exception
    described by :func:`describe_error`: the frames (our own code) are kept, what the
    exceptions say passes the same redaction as everything else."""
    chain: list[tuple[BaseException, str | None]] = []  # outermost first, with its link
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            inner, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            inner, link = current.__context__, _CONTEXT
        else:
            inner, link = None, None
        chain.append((current, link))
        current = inner
    lines: list[str] = []
    for index in range(len(chain) - 1, -1, -1):
        item = chain[index][0]
        if item.__traceback__ is not None:
            lines.append("Traceback (most recent call last):")
            for frame in traceback.format_tb(item.__traceback__):
                lines += [ln for ln in frame.rstrip("\n").split("\n") if not _CARETS.match(ln)]
        lines.append(describe_error(item))
        if index > 0:
            lines.append(chain[index - 1][1] or _CONTEXT)
    return "\n".join(lines)


def _safe_argument(value: object) -> object:
    return describe_error(value) if isinstance(value, BaseException) else value


class RedactingFilter(logging.Filter):
    """Every record, whatever logged it: exceptions given as arguments described (never
    their repr), the message and the exception text redacted and made one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, BaseException):  # log.error(exc)
            record.msg = describe_error(record.msg)
        args: Any = record.args
        if isinstance(args, tuple):
            record.args = tuple(_safe_argument(a) for a in args)
        elif isinstance(args, Mapping):
            record.args = {k: _safe_argument(v) for k, v in args.items()}
        message = record.getMessage()
        clean = single_line(redact(message))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = single_line(redact(exception_text(record.exc_info[1])))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = single_line(redact(record.exc_text))
        if record.stack_info:
            record.stack_info = single_line(redact(record.stack_info))
        if clean != message or record.args:
            record.msg = clean
            record.args = None
        context = log_context.get()
        if context:
            for key, value in context.items():
                setattr(record, key, value)
        return True


class TextFormatter(logging.Formatter):
    """Text for people: one record, one line — its exception text follows on the same line.

    ``tz``: times in that zone, its offset said (``2026-12-06 09:51:50,123+05:00``), as the
    messages show them; without, the machine's local time as logging writes it."""

    def __init__(self, tz: tzinfo | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if self.tz is None:
            return super().formatTime(record, datefmt)
        moment = datetime.fromtimestamp(record.created, self.tz)
        offset = moment.isoformat(timespec="seconds")[19:] or "+00:00"
        return f"{moment:%Y-%m-%d %H:%M:%S},{int(record.msecs):03d}{offset}"

    def formatException(self, ei: Any) -> str:  # logging's name
        return redact(exception_text(ei[1])) if ei and ei[1] is not None else ""

    def format(self, record: logging.LogRecord) -> str:
        return single_line(super().format(record))


class JsonFormatter(logging.Formatter):
    _CONTEXT_KEYS = ("guid", "cashier_id", "update_id")

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": single_line(record.getMessage()),
        }
        for key in self._CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        if record.exc_text:
            data["exception"] = single_line(record.exc_text)
        elif record.exc_info and record.exc_info[1] is not None:
            data["exception"] = single_line(redact(exception_text(record.exc_info[1])))
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLevelName(level)))
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread


def log_times_in(tz: tzinfo) -> None:
    """From now on the text log lines tell the time in ``tz``, with its offset (the demo: the
    times its messages show). JSON lines keep UTC, which they say."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, TextFormatter):
            handler.formatter.tz = tz


def one_line(exc: BaseException) -> str:
    """An exception as one redacted line: what start-up failures print instead of a
    traceback (:func:`describe_error`)."""
    return describe_error(exc)


def _uncaught(kind: type[BaseException], exc: BaseException, tb: object) -> None:
    logging.getLogger("bot").critical("stopped by an unexpected error: %s", one_line(exc))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        logging.getLogger("bot").error(
            "thread %s failed: %s",
            args.thread.name if args.thread else "?",
            one_line(args.exc_value),
        )
