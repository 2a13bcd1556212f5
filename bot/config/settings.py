"""Settings: the environment (and an optional ``.env``) is the only source.

The variable names are a public contract documented in README.md. A bad value must stop
start-up with one clear line naming the variable (see :func:`load_settings`).
"""

from __future__ import annotations

import contextlib
from datetime import time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PositiveFloat,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

import bot.config.checks as checks
from bot.config.languages import language
from bot.domain.receipts import Parties
from bot.infra.redaction import is_postgres_url, url_passwords

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


# Each kind of value with its check (bot/config/checks.py); settings weighed together are
# checked by Settings._consistency.
IdList = Annotated[list[int], NoDecode, BeforeValidator(checks.id_list)]
Url = Annotated[str | None, AfterValidator(checks.url)]
LegalName = Annotated[str | None, AfterValidator(checks.legal_name)]
Bin = Annotated[str | None, AfterValidator(checks.bin_number)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    bot_token: Annotated[SecretStr | None, AfterValidator(checks.bot_token)] = None
    telegram_api_url: Annotated[str, AfterValidator(checks.url)] = DEFAULT_TELEGRAM_API_URL

    allpay_url: Url = None
    #: The embedded sandbox asked for by name (true), or refused (false). Unset: the sandbox
    #: runs without ALLPAY_URL only for a configuration that does not say production.
    allpay_sandbox: bool | None = None
    allpay_requester: str | None = None
    allpay_token: SecretStr | None = None
    allpay_certificate_number: str | None = None
    allpay_private_key: Path | None = None
    allpay_public_key: Path | None = None
    allpay_tm_url: Url = None
    #: Which Cash-In service Allpay gave the agent: 1.1 (the seed's) or 1.2. The endpoints
    #: are what Allpay gives (ALLPAY_URL, ALLPAY_TM_URL), never derived from the version.
    #: The Cash-In service's version (``bot.allpay.protocol.ApiVersion``'s values).
    allpay_api_version: Literal["1.1", "1.2"] = "1.1"
    allpay_timeout: PositiveFloat = 30.0
    allpay_concurrency: Annotated[int, Field(ge=1, le=256)] = 8

    pending_retry_min: PositiveFloat = 2.0
    pending_retry_max: PositiveFloat = 60.0
    pending_alert_after: PositiveFloat = 600.0
    pending_give_up_after: PositiveFloat = 172800.0

    #: Not in the settings' repr: a PostgreSQL URL may carry its password.
    database_url: Annotated[str, AfterValidator(checks.database_url)] = Field(
        default="sqlite:///data/cashin.sqlite3", repr=False
    )

    admin_ids: IdList = Field(default_factory=list)
    supervisor_ids: IdList = Field(default_factory=list)
    cashier_ids: IdList = Field(default_factory=list)
    supervisor_chat_ids: IdList = Field(default_factory=list)

    default_language: Annotated[str, AfterValidator(language)] = "ru"
    amount_min: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=0)] = Decimal(100)
    amount_max: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=0)] = Decimal(500000)
    timezone: Annotated[str, AfterValidator(checks.timezone)] = "Asia/Almaty"

    # Money controls (0 = off): per local day, and supervisor approval from a threshold.
    cashier_daily_limit: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=0)] = Decimal(
        0
    )
    cashier_daily_count: Annotated[int, Field(ge=0)] = 0
    client_daily_limit: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=0)] = Decimal(
        0
    )
    approval_threshold: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=0)] = Decimal(
        0
    )
    approval_timeout: PositiveFloat = 900.0

    digest_time: Annotated[time | None, BeforeValidator(checks.digest_time)] = time(21, 0)

    #: Supervisors are told once when the agent's Allpay balance falls below this (tenge;
    #: unset, 0 or ``off``: not watched) and once when it is back; asked every
    #: BALANCE_CHECK_EVERY seconds by one instance. Needs ALLPAY_TM_URL with ALLPAY_URL.
    balance_alert_below: Annotated[
        Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)] | None,
        BeforeValidator(checks.off_or_amount),
    ] = None
    balance_check_every: Annotated[float, Field(ge=30, le=86400)] = 300.0

    #: Daily at 04:00 local (and at start): delivered messages, cancelled drafts and idle
    #: conversations older than this are pruned (0: never). Payments, approvals and the
    #: audit trail are kept for ever.
    prune_after_days: Annotated[int, Field(ge=0, le=3650)] = 90
    #: A verified copy of the journal there every day (unset: none); the newest BACKUP_KEEP.
    backup_dir: Path | None = None
    backup_keep: Annotated[int, Field(ge=1, le=1000)] = 7
    #: Conversations (aiogram's FSM) and the order of each person's updates shared by every
    #: instance (``redis://[:password@]host:6379/0``); unset: in the journal, one process.
    redis_url: SecretStr | None = None
    #: What the bot's Redis keys start with (several bots may share one Redis).
    redis_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,32}$")] = "cashin"
    #: The embedded sandbox's folder (no ALLPAY_URL). Unset: ``sandbox`` beside the SQLite
    #: file (``data/sandbox`` beside a PostgreSQL setup, for ``python -m bot sandbox``). With
    #: PostgreSQL several instances share one Allpay (ALLPAY_URL): this gives a single
    #: instance an embedded sandbox of its own.
    sandbox_dir: Path | None = None
    #: This process among several sharing one journal (its send leases carry the name).
    #: Unset: the host's name — one process per host, which takes its own leases back at
    #: once when it restarts after a crash. Several on one host: a distinct name each.
    instance_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] | None = (
        None
    )

    # Who the receipt names: the e-money issuer (Allpay) and the agent taking the cash. All four
    # are required when ALLPAY_URL is set; the sandbox prints example values, marked as such.
    issuer_name: LegalName = None
    issuer_bin: Bin = None
    agent_name: LegalName = None
    agent_bin: Bin = None
    #: A fixed fee per top-up the client pays on top of the amount (Allpay's answer has none).
    cashin_fee: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] = Decimal(0)

    log_level: Annotated[str, AfterValidator(checks.log_level)] = "INFO"
    log_format: LogFormat = LogFormat.TEXT

    webhook_url: Url = None
    webhook_secret: Annotated[SecretStr | None, AfterValidator(checks.webhook_secret)] = None
    web_enabled: bool = True
    web_host: str = "127.0.0.1"
    web_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    #: Webhook mode only: /healthz and /metrics on their own listener, so the public port
    #: carries nothing but the webhook path.
    metrics_host: str = "127.0.0.1"
    metrics_port: Annotated[int, Field(ge=1, le=65535)] = 8081
    #: The supervisor's desk (a Telegram Mini App): its public https:// address, whose path
    #: the bot's own web server serves, and which supervisors' and admins' menu buttons
    #: open (unset: no desk, its code not even loaded, no menu button calls).
    webapp_url: Annotated[str | None, AfterValidator(checks.webapp_url)] = None
    #: How long the desk's signed launch data stays good (seconds): an hour — a shift's
    #: glance at the day, long enough not to interrupt it, short enough that a copied
    #: Authorization header is worthless by the next one (the roster is checked on every
    #: call anyway, so a removed person loses the desk at once).
    webapp_max_age: Annotated[int, Field(ge=60, le=86400)] = 3600

    @model_validator(mode="after")
    def _consistency(self) -> Self:
        if self.telegram_api_url is None:
            self.telegram_api_url = DEFAULT_TELEGRAM_API_URL
        if self.pending_retry_min > self.pending_retry_max:
            raise ValueError("PENDING_RETRY_MIN must not exceed PENDING_RETRY_MAX")
        if self.amount_min > self.amount_max:
            raise ValueError("AMOUNT_MIN must not exceed AMOUNT_MAX")
        if self.allpay_url is not None and self.allpay_sandbox:
            raise ValueError(
                "ALLPAY_SANDBOX=true and ALLPAY_URL contradict each other: unset "
                "ALLPAY_SANDBOX for the real Allpay, or ALLPAY_URL for the sandbox"
            )
        if self.allpay_url is not None:
            missing = [
                name
                for name, val in (
                    ("ALLPAY_REQUESTER", self.allpay_requester),
                    ("ALLPAY_CERTIFICATE_NUMBER", self.allpay_certificate_number),
                    ("ALLPAY_PRIVATE_KEY", self.allpay_private_key),
                    ("ALLPAY_PUBLIC_KEY", self.allpay_public_key),
                    ("ISSUER_NAME", self.issuer_name),
                    ("ISSUER_BIN", self.issuer_bin),
                    ("AGENT_NAME", self.agent_name),
                    ("AGENT_BIN", self.agent_bin),
                )
                if not val
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)} required when ALLPAY_URL is set")
        if self.on_postgres:
            if self.allpay_url is None and self.sandbox_dir is None:
                raise ValueError(
                    "ALLPAY_URL is required with a postgresql:// DATABASE_URL: the instances "
                    "share one Allpay (a real one, or `python -m bot sandbox` run once); "
                    "SANDBOX_DIR with ALLPAY_SANDBOX=true gives a single instance an embedded "
                    "sandbox instead"
                )
            if self.backup_dir is not None:
                raise ValueError("BACKUP_DIR copies SQLite only: back PostgreSQL up with pg_dump")
        if self.balance_alert_below is not None and self.allpay_url and not self.allpay_tm_url:
            raise ValueError(
                "BALANCE_ALERT_BELOW needs ALLPAY_TM_URL (the balance is asked there): set it, "
                "or unset BALANCE_ALERT_BELOW"
            )
        if self.webhook_url is not None:
            if self.webhook_secret is None:
                raise ValueError("WEBHOOK_SECRET is required when WEBHOOK_URL is set")
            if not self.web_enabled:
                raise ValueError("WEB_ENABLED must be true when WEBHOOK_URL is set")
            if not self.webhook_url.startswith("https://"):
                raise ValueError("WEBHOOK_URL must be https:// (Telegram's requirement)")
        if self.webapp_path is not None:
            if not self.web_enabled:
                raise ValueError("WEB_ENABLED must be true when WEBAPP_URL is set")
            hook = self.webhook_path
            if hook is not None and (hook + "/").startswith(self.webapp_path):
                raise ValueError("WEBAPP_URL's path must not contain WEBHOOK_URL's path")
        for name, path in (
            ("ALLPAY_PRIVATE_KEY", self.allpay_private_key),
            ("ALLPAY_PUBLIC_KEY", self.allpay_public_key),
        ):
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file {str(path)!r}")
        self._sandbox_by_name_only()
        return self

    def _sandbox_by_name_only(self) -> None:
        """A misspelled ALLPAY_URL must never run real people's top-ups on the sandbox: a
        configuration that says production refuses to start without ALLPAY_URL, unless the
        sandbox is asked for by name (ALLPAY_SANDBOX=true)."""
        if self.allpay_url is not None:
            return
        if self.allpay_sandbox is False:
            raise ValueError(
                "ALLPAY_URL is required: ALLPAY_SANDBOX=false says this is not the sandbox "
                "(check the variable's spelling)"
            )
        if self.allpay_sandbox:
            return
        production = self.production_signs()
        if production:
            raise ValueError(
                "ALLPAY_URL is not set, yet this configuration is a production one "
                f"({', '.join(production)}): set ALLPAY_URL (check the variable's spelling), "
                "or ALLPAY_SANDBOX=true to run on the embedded sandbox, where no real money "
                "moves"
            )

    def production_signs(self) -> list[str]:
        """The settings that say this is a production configuration: a webhook, PostgreSQL,
        a real issuer or agent, any of Allpay's own settings."""
        signs = [
            name
            for name, value in (
                ("WEBHOOK_URL", self.webhook_url),
                ("ISSUER_NAME", self.issuer_name),
                ("ISSUER_BIN", self.issuer_bin),
                ("AGENT_NAME", self.agent_name),
                ("AGENT_BIN", self.agent_bin),
                ("ALLPAY_REQUESTER", self.allpay_requester),
                ("ALLPAY_TOKEN", self.allpay_token),
                ("ALLPAY_CERTIFICATE_NUMBER", self.allpay_certificate_number),
                ("ALLPAY_PRIVATE_KEY", self.allpay_private_key),
                ("ALLPAY_PUBLIC_KEY", self.allpay_public_key),
                ("ALLPAY_TM_URL", self.allpay_tm_url),
            )
            if value
        ]
        if self.on_postgres:
            signs.insert(1 if self.webhook_url else 0, "a postgresql:// DATABASE_URL")
        return signs

    # Derived values -------------------------------------------------------------------

    @property
    def on_postgres(self) -> bool:
        return is_postgres_url(self.database_url)

    @property
    def database_path(self) -> Path:
        """The SQLite file (SQLite only)."""
        if self.on_postgres:
            raise ValueError("DATABASE_URL is PostgreSQL: there is no database file")
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def sandbox_folder(self) -> Path:
        """Where the embedded sandbox keeps its keys and ledger."""
        if self.sandbox_dir is not None:
            return self.sandbox_dir
        if self.on_postgres:  # `python -m bot sandbox` beside a PostgreSQL setup
            return Path("data") / "sandbox"
        return self.database_path.parent / "sandbox"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def parties(self) -> Parties:
        """Who the receipt names (``ISSUER_*``, ``AGENT_*``)."""
        return Parties(self.issuer_name, self.issuer_bin, self.agent_name, self.agent_bin)

    @property
    def uses_sandbox(self) -> bool:
        return self.allpay_url is None

    def plain_http_allpay(self) -> list[str]:
        """Allpay endpoints set without TLS. Answers are signed and verified either way, but
        a Fault is not signed: on plain http anyone on the way can write one."""
        if self.allpay_url is None:  # the embedded sandbox: on loopback, in-process
            return []
        urls = (("ALLPAY_URL", self.allpay_url), ("ALLPAY_TM_URL", self.allpay_tm_url))
        return [name for name, url in urls if url is not None and not url.startswith("https://")]

    @property
    def health_address(self) -> tuple[str, int]:
        """Where /healthz and /metrics listen: the web port, or their own when the web port
        faces the internet (a webhook, or the desk)."""
        if self.webhook_url is not None or self.webapp_url is not None:
            return self.metrics_host, self.metrics_port
        return self.web_host, self.web_port

    def secret_values(self) -> list[str]:
        """Everything no log line or stored error may ever show (see bot.infra.redaction)."""
        found = [
            secret.get_secret_value()
            for secret in (self.bot_token, self.allpay_token, self.webhook_secret)
            if secret is not None
        ]
        if self.redis_url is not None:
            found += url_passwords(self.redis_url.get_secret_value())
        if self.on_postgres:
            found += url_passwords(self.database_url)
        if self.allpay_private_key is not None:
            with contextlib.suppress(OSError, ValueError):  # unreadable, or not PEM text
                found.append(self.allpay_private_key.read_text())
        return found

    @property
    def webhook_path(self) -> str | None:
        """Where updates are received: the path of ``WEBHOOK_URL``."""
        if self.webhook_url is None:
            return None
        return urlsplit(self.webhook_url).path or "/"

    @property
    def webapp_path(self) -> str | None:
        """The desk's path prefix on the bot's web server: ``WEBAPP_URL``'s path, ending in /."""
        if self.webapp_url is None:
            return None
        path = urlsplit(self.webapp_url).path or "/"
        return path if path.endswith("/") else path + "/"


class ConfigError(Exception):
    """A setting is wrong; the message is one line naming the variable."""


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if not str(part).isdigit()]
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if location:
        return f"{location[0].upper()}: {message}"
    return message


def load_settings(**overrides: Any) -> Settings:
    """Build settings once; raise :class:`ConfigError` with one readable line on bad input."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"configuration error: {_describe(exc)}") from None
