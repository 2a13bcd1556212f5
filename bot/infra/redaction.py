"""One redaction for everything the bot writes down: log records, tracebacks, stored errors.

Two nets, applied together:

* **Known secrets** (the bot token, Allpay's token, the agent's private key) are registered
  once at start-up and removed in every form they travel in: as they are, URL-encoded
  (``%3A`` for the token's colon), and — for the bot token — its secret half alone.
* **Shapes** catch what was never registered (another bot's token, a key read by a library):
  a Telegram token anywhere, also inside a URL path (``…/bot123456:AA…/getMe``) or encoded;
  PEM blocks; 12-digit IINs; and client logins, which are masked rather than removed.

This module imports nothing of the bot but the login mask, so the journal can use it for
the error strings it stores.
"""

from __future__ import annotations

import contextlib
import re
import threading
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

from bot.domain.masking import mask_login

#: A client's login in every form the bot and people write it: ``77000000001``,
#: ``+77000000001``, ``87000000001``, and spaced or punctuated — ``+7 700 000 00 01``,
#: ``8 (700) 000-00-01``, no-break spaces too. Never inside a longer number, a GUID (hex
#: digits and dashes before it) or a word ending in a hex letter.
_LOGIN_SEP = "[ \u00a0\u2009\u202f()\\-]"
_LOGIN = re.compile(
    rf"(?<![0-9A-Fa-f{{+\-])(?:\+[ \u00a0]?7|7|8)((?:{_LOGIN_SEP}{{0,2}}\d){{10}})(?!\d)"
)
_NOT_DIGITS = re.compile(r"\D")
#: What starts a new line in a log file or a terminal: CR/LF and their Unicode kin.
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")
#: Other control characters (a terminal acts on ESC sequences): shown as "?".
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")
#: What replaces a line break in a log line.
LINE_MARK = " | "
_IIN = re.compile(r"(?<![\d\-])\d{12}(?![\d\-])")
# No word boundary in front: in ".../bot123456:AA..." the digits follow a letter.
_TOKEN = re.compile(r"(?<!\d)\d{5,}(?::|%3[Aa])[A-Za-z0-9_-]{30,}")
_PEM = re.compile(r"-----BEGIN [A-Z ]+-----.*?(?:-----END [A-Z ]+-----|\Z)", re.S)

TOKEN_MARK = "<token redacted>"  # noqa: S105 (a placeholder, not a secret)
SECRET_MARK = "<secret redacted>"  # noqa: S105

#: aiogram's ClientDecodeError ends with "Content: <the whole Bot API answer>": users'
#: messages, names and contacts. The answer is never worth keeping.
_ANSWER = re.compile(r"\nContent: .*", re.S)
#: Secrets shorter than this are removed only where they stand alone (a six-digit token
#: must not blank out every id or amount that happens to contain its digits).
_SHORT = 12

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()
_short_words: frozenset[str] = frozenset()
_short: re.Pattern[str] | None = None


def _forms(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
    return {form for form in forms if form}


def register_secret(value: str | None) -> None:
    """Never let ``value`` (in any of its usual encodings) reach a log or a stored error.
    Values shorter than 12 characters are removed where they stand alone, not inside longer
    words or numbers."""
    global _secrets
    if not value or len(value) < 4:  # shorter ones cannot be told from ordinary text
        return
    found = _forms(value)
    if ":" in value:  # a bot token: its secret half travels alone in some error texts
        secret_half = value.split(":", 1)[1]
        if len(secret_half) >= 16:
            found |= _forms(secret_half)
    for line in value.splitlines():  # a PEM key: each base64 line of it
        line = line.strip()
        if len(line) >= 32 and not line.startswith("-----"):
            found.add(line)
    global _short_words, _short
    with _lock:
        every = set(_secrets) | {f for f in found if len(f) >= _SHORT}
        _secrets = tuple(sorted(every, key=len, reverse=True))
        _short_words = _short_words | {f for f in found if len(f) < _SHORT}
        if _short_words:
            words = "|".join(re.escape(w) for w in sorted(_short_words, key=len, reverse=True))
            _short = re.compile(f"(?<![A-Za-z0-9])(?:{words})(?![A-Za-z0-9])")


def redact(text: str) -> str:
    """``text`` with every secret removed, IINs removed and client logins masked."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, SECRET_MARK)
    if _short is not None:
        text = _short.sub(SECRET_MARK, text)
    text = _ANSWER.sub("\nContent: <answer omitted>", text)
    text = _PEM.sub("<key redacted>", text)
    text = _TOKEN.sub(TOKEN_MARK, text)
    text = _IIN.sub("<iin redacted>", text)
    return _LOGIN.sub(lambda m: mask_login("7" + _NOT_DIGITS.sub("", m.group(1))), text)


def single_line(text: str) -> str:
    """``text`` as one line: line breaks (CR, LF and their Unicode kin) become " | ", other
    control characters "?" — a forged text can never start a line of its own in a log."""
    return _CONTROLS.sub("?", _LINE_BREAKS.sub(LINE_MARK, text))


def redact_error(error: BaseException | str | None, limit: int = 500) -> str | None:
    """The form of an error the bot may store: redacted, one line, bounded."""
    if error is None:
        return None
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return " ".join(redact(text).split())[:limit]


def redacted_url(url: str) -> str:
    """A server's address to show: ``scheme://user@host:port/path``, never its password
    (nor a query, which may carry one)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a port: shown as nothing
        port = ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def url_passwords(url: str) -> list[str]:
    """Every form the password in a server's URL (PostgreSQL, Redis) may be shown in: as
    typed, decoded, as libpq reads it; in the address or as ``?password=``. Each is
    redacted everywhere."""
    parts = urlsplit(url)
    found = {parts.password or "", unquote(parts.password or "")}
    for pair in parts.query.split("&"):
        key, _sep, value = pair.partition("=")
        if key == "password":
            found |= {value, unquote_plus(value)}
    if is_postgres_url(url):
        # Loaded only for a PostgreSQL URL: a SQLite bot never loads psycopg.
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict

        with contextlib.suppress(ProgrammingError):  # not for libpq to read: urlsplit's is all
            found.add(str(conninfo_to_dict(url).get("password") or ""))
    return sorted(password for password in found if password)
