"""``python -m bot check``: before the first cashier taps, does this deployment work?

One line per check, ✅ or ❌ with what to fix (⚠️: it runs, but say what to fix — no
``ADMIN_IDS``, an Allpay endpoint without TLS); secrets are never printed. Checked: the
settings (loaded before this runs), the key files (readable, the private one not readable
by others), Allpay's ``echo`` signed with the configured certificate and its answer verified
(the keys, the certificate number and the endpoint in one), ``availableBalance`` on
TransactionManagement (with ``BALANCE_ALERT_BELOW``: whether it is below the mark now),
Telegram's ``getMe`` (the token) and ``getWebhookInfo``, and the database (reachable, its
schema not newer than this bot). On the embedded sandbox the same checks run against it;
settings it refuses (``BALANCE_ALERT_BELOW`` without ``ALLPAY_TM_URL``, …) stop it first,
in one line.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError

from bot.allpay.client import AllpayClient
from bot.allpay.protocol import AllpayError, AllpayErrorKind
from bot.allpay.signing import load_key
from bot.config.settings import Settings
from bot.infra.logs import one_line
from bot.infra.redaction import redact, redacted_url
from bot.store.schema import VERSION
from bot.wiring.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    ok: bool
    detail: str
    counts: bool = True  # False: informational (an optional part not configured)
    warning: bool = False  # passes, but says what to fix (⚠️)

    def line(self) -> str:
        mark = "✅" if self.ok else ("❌" if self.counts else "➖")
        if self.ok and self.warning:
            mark = "⚠️"
        return f"{mark} {self.name}: {self.detail}"


#: What an operator must know when ``ADMIN_IDS`` is empty, said at start and by the check.
NO_ADMINS = (
    "empty — unless the roster keeps an admin from an earlier start, nobody can add cashiers "
    "or supervisors in chat, and nobody gets back in if the roster loses its admins; set "
    "ADMIN_IDS to your Telegram id (the bot tells anyone it does not know their id)"
)


def warn_about_admins(settings: Settings) -> None:
    """A start-up line an operator must not miss: no admin in the settings."""
    if not settings.admin_ids:
        log.warning("ADMIN_IDS is %s", NO_ADMINS)


def _key_files(settings: Settings) -> list[Outcome]:
    found: list[Outcome] = []
    for name, path, private in (
        ("ALLPAY_PRIVATE_KEY", settings.allpay_private_key, True),
        ("ALLPAY_PUBLIC_KEY", settings.allpay_public_key, False),
    ):
        if path is None:
            continue  # the embedded sandbox: its own keys
        try:
            load_key(path, private=private)
        except Exception as exc:
            found.append(Outcome(name, False, f"{path} is not a usable key ({one_line(exc)})"))
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if private and mode & 0o077:
            found.append(
                Outcome(name, False, f"{path} is readable by others ({mode:o}): chmod 600 it")
            )
            continue
        found.append(
            Outcome(name, True, f"{path} readable" + (" by its owner only" if private else ""))
        )
    return found


async def _allpay(
    client: AllpayClient, lang: str, mark: Decimal | None = None, every: float = 0.0
) -> list[Outcome]:
    found: list[Outcome] = []
    message = f"check {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
    try:
        answer = await client.echo(message)
    except AllpayError as exc:
        found.append(Outcome("Allpay echo", False, _allpay_problem(exc, client.url)))
    else:
        ok = answer == message
        detail = (
            f"signed answer verified at {client.url} (Cash-In {client.version})"
            if ok
            else "the answer did not repeat the message"
        )
        found.append(Outcome("Allpay echo", ok, detail))
    if not found[-1].ok:
        # The same keys sign it: one cause, one red line.
        found.append(
            Outcome("Allpay availableBalance", False, "not tried: fix the echo first", counts=False)
        )
        return found
    if client.tm_url is None:
        found.append(
            Outcome(
                "Allpay availableBalance",
                False,
                "ALLPAY_TM_URL is not set: /balance is off",
                counts=False,
            )
        )
        return found
    try:
        balance = await client.available_balance(lang)
    except AllpayError as exc:
        found.append(Outcome("Allpay availableBalance", False, _allpay_problem(exc, client.tm_url)))
    else:
        found.append(
            Outcome("Allpay availableBalance", True, f"the agent's balance is {balance.raw}")
        )
        if mark is not None:
            below = balance.amount is not None and balance.amount < mark
            found.append(
                Outcome(
                    "BALANCE_ALERT_BELOW",
                    True,
                    f"supervisors are told when the balance falls below {mark} ₸ and when it is "
                    f"back (asked every {every:g} s)"
                    + ("; it is below now: they are told at start" if below else ""),
                    warning=below,
                )
            )
    return found


def _allpay_problem(error: AllpayError, url: str) -> str:
    """What to fix; Allpay's own words pass the redaction every log line passes."""
    said = redact(str(error))
    if error.kind is AllpayErrorKind.UNAVAILABLE:
        return f"no answer from {url} ({said}): check the URL and the network"
    if error.kind is AllpayErrorKind.FAULT:
        return (
            f"Allpay refused the request ({said}): check ALLPAY_PRIVATE_KEY, "
            "ALLPAY_CERTIFICATE_NUMBER and ALLPAY_REQUESTER"
        )
    return f"the answer was not trustworthy ({said}): check ALLPAY_PUBLIC_KEY"


async def _telegram(settings: Settings) -> list[Outcome]:
    from bot.wiring.clients import make_bot

    bot = make_bot(settings)
    found: list[Outcome] = []
    try:
        try:
            me = await bot.get_me()
        except TelegramUnauthorizedError:
            return [
                Outcome(
                    "Telegram getMe",
                    False,
                    "Telegram refused BOT_TOKEN: get it anew from @BotFather",
                )
            ]
        except TelegramAPIError as exc:
            return [Outcome("Telegram getMe", False, f"{one_line(exc)}: check TELEGRAM_API_URL")]
        found.append(Outcome("Telegram getMe", True, f"@{me.username} (id {me.id})"))
        try:
            hook = await bot.get_webhook_info()
        except TelegramAPIError as exc:
            found.append(Outcome("Telegram getWebhookInfo", False, one_line(exc)))
            return found
        if settings.webhook_url is None:
            detail = "polling" + (
                " (the webhook set at Telegram is removed at start)" if hook.url else ""
            )
            found.append(Outcome("Telegram getWebhookInfo", True, detail))
        elif hook.url == settings.webhook_url:
            detail = f"webhook registered, {hook.pending_update_count} updates waiting"
            if hook.last_error_message:
                detail += f"; Telegram's last error: {hook.last_error_message}"
            found.append(Outcome("Telegram getWebhookInfo", not hook.last_error_message, detail))
        else:
            found.append(
                Outcome(
                    "Telegram getWebhookInfo", True, "WEBHOOK_URL is registered at the bot's start"
                )
            )
    finally:
        await bot.session.close()
    return found


def _database(path: Path) -> Outcome:
    name = "database"
    if not path.exists():
        folder = next((p for p in path.parents if p.exists()), None)
        if folder is None or not folder.is_dir():
            return Outcome(name, False, f"{path}: no folder to create it in")
        return Outcome(name, True, f"{path} is created at the first start")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        return Outcome(name, False, f"{path}: {exc}")
    if version > VERSION:
        return Outcome(name, False, f"{path} has schema {version}, newer than this bot's {VERSION}")
    if version < VERSION:
        return Outcome(name, True, f"{path} schema {version}; migrated to {VERSION} at start")
    return Outcome(name, True, f"{path} schema {version}, current")


async def _postgres(url: str) -> Outcome:
    """Reach the server and read the schema's version, changing nothing."""
    import psycopg

    name = "database"
    where = redacted_url(url)

    def version() -> int | None:
        with psycopg.connect(url, connect_timeout=10, autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,):
                return None
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            return int(row[0]) if row else None

    try:
        found = await asyncio.to_thread(version)
    except psycopg.Error as exc:
        return Outcome(name, False, f"{where}: {one_line(exc)}")
    if found is None:
        return Outcome(name, True, f"{where}: reached; the schema is created at the first start")
    if found > VERSION:
        return Outcome(name, False, f"{where} has schema {found}, newer than this bot's {VERSION}")
    state = "current" if found == VERSION else f"migrated to {VERSION} at start"
    return Outcome(name, True, f"{where} schema {found}, {state}")


async def preflight(settings: Settings) -> list[Outcome]:
    from bot.wiring.clients import allpay_client

    found = [
        Outcome(
            "settings", True, "valid" + (" (the embedded sandbox)" if settings.uses_sandbox else "")
        )
    ]
    if not settings.admin_ids:
        found.append(Outcome("ADMIN_IDS", True, NO_ADMINS, warning=True))
    found += [
        Outcome(
            name,
            True,
            "not https://: Allpay's answers are verified by signature, but its Faults are "
            "unsigned and could be forged on the way; ask Allpay for an https:// endpoint",
            warning=True,
        )
        for name in settings.plain_http_allpay()
    ]
    found += _key_files(settings)
    try:
        client, sandbox = await allpay_client(settings, Metrics())
    except Exception as exc:
        found.append(Outcome("Allpay client", False, one_line(exc)))
    else:
        try:
            found += await _allpay(
                client,
                settings.default_language,
                settings.balance_alert_below,
                settings.balance_check_every,
            )
        finally:
            await client.close()
            if sandbox is not None:
                await sandbox.close()
    found += await _telegram(settings)
    if settings.on_postgres:
        found.append(await _postgres(settings.database_url))
    else:
        found.append(_database(settings.database_path))
    return found
