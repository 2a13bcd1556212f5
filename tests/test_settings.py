from __future__ import annotations

import os
import subprocess
import sys
from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest

from bot.__main__ import main as bot_main
from bot.config.languages import normalize_language
from bot.config.settings import ConfigError, load_settings
from tests.childstart import spawn
from tests.harness import PARTIES_ENV, child_env


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(__import__("os").environ):
        if name.startswith(
            ("ALLPAY_", "PENDING_", "AMOUNT_", "BOT_", "TELEGRAM_", "BALANCE_")
        ) or name in {
            "DATABASE_URL",
            "ADMIN_IDS",
            "SUPERVISOR_IDS",
            "CASHIER_IDS",
            "SUPERVISOR_CHAT_IDS",
            "DEFAULT_LANGUAGE",
            "TIMEZONE",
            "LOG_LEVEL",
            "LOG_FORMAT",
            "DIGEST_TIME",
            "AGENT_NAME",
            "AGENT_BIN",
            "APPROVAL_THRESHOLD",
            "APPROVAL_TIMEOUT",
            "CASHIER_DAILY_LIMIT",
            "CASHIER_DAILY_COUNT",
            "CLIENT_DAILY_LIMIT",
            "WEBHOOK_URL",
            "WEBHOOK_SECRET",
            "WEB_PORT",
            "WEB_HOST",
            "WEB_ENABLED",
            "SANDBOX_DIR",
            "BACKUP_DIR",
            "REDIS_URL",
            "WEBAPP_URL",
            "WEBAPP_MAX_AGE",
        }:
            monkeypatch.delenv(name)


def test_defaults_are_the_documented_ones() -> None:
    s = load_settings()
    assert s.uses_sandbox
    assert s.allpay_timeout == 30
    assert (s.pending_retry_min, s.pending_retry_max) == (2, 60)
    assert s.pending_alert_after == 600 and s.pending_give_up_after == 172800
    assert s.database_path == Path("data/cashin.sqlite3")
    assert s.default_language == "ru"
    assert (s.amount_min, s.amount_max) == (Decimal(100), Decimal(500000))
    assert s.timezone == "Asia/Almaty" and s.tz.key == "Asia/Almaty"
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.digest_time == time(21, 0) and s.agent_bin is None and s.allpay_tm_url is None


@pytest.mark.parametrize(
    ("value", "expected"), [("08:30", time(8, 30)), ("off", None), ("", None), ("0:00", time(0))]
)
def test_digest_time(monkeypatch: pytest.MonkeyPatch, value: str, expected: time | None) -> None:
    monkeypatch.setenv("DIGEST_TIME", value)
    assert load_settings().digest_time == expected


def test_lists_fractions_and_absolute_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "1, 2,3")
    monkeypatch.setenv("SUPERVISOR_CHAT_IDS", "-1001234")
    monkeypatch.setenv("PENDING_RETRY_MIN", "0.05")
    monkeypatch.setenv("PENDING_RETRY_MAX", "0.5")
    monkeypatch.setenv("DATABASE_URL", "sqlite:////var/lib/bot/x.sqlite3")
    monkeypatch.setenv("DEFAULT_LANGUAGE", "kz")
    monkeypatch.setenv("BOT_TOKEN", "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ012345678")
    s = load_settings()
    assert s.admin_ids == [1, 2, 3] and s.supervisor_chat_ids == [-1001234]
    assert s.pending_retry_min == 0.05
    assert s.database_path == Path("/var/lib/bot/x.sqlite3")
    assert s.default_language == "kk"
    assert "ABCdef" not in repr(s) and "ABCdef" not in str(s.bot_token)


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DEFAULT_LANGUAGE=en\nAMOUNT_MAX=1000\n")
    s = load_settings()
    assert s.default_language == "en" and s.amount_max == 1000


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("ALLPAY_TIMEOUT", "soon", "ALLPAY_TIMEOUT"),
        ("ALLPAY_TIMEOUT", "-1", "ALLPAY_TIMEOUT"),
        ("ADMIN_IDS", "1,bob", "ADMIN_IDS"),
        ("DEFAULT_LANGUAGE", "de", "DEFAULT_LANGUAGE"),
        ("AMOUNT_MIN", "10.5", "AMOUNT_MIN"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE"),
        ("DATABASE_URL", "postgres://x", "DATABASE_URL"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT"),
        ("BOT_TOKEN", "not a token", "BOT_TOKEN"),
        ("ALLPAY_URL", "https://allpay.example/soap", "ALLPAY_REQUESTER"),
        ("PENDING_RETRY_MIN", "100", "PENDING_RETRY_MIN"),
        ("DIGEST_TIME", "25:00", "DIGEST_TIME"),
        ("DIGEST_TIME", "9pm", "DIGEST_TIME"),
        ("AGENT_BIN", "12345", "AGENT_BIN"),
        ("ALLPAY_TM_URL", "ftp://x", "ALLPAY_TM_URL"),
        ("APPROVAL_THRESHOLD", "-1", "APPROVAL_THRESHOLD"),
        ("APPROVAL_THRESHOLD", "lots", "APPROVAL_THRESHOLD"),
        ("CASHIER_DAILY_LIMIT", "-500", "CASHIER_DAILY_LIMIT"),
        ("CASHIER_DAILY_COUNT", "ten", "CASHIER_DAILY_COUNT"),
        ("CLIENT_DAILY_LIMIT", "1e999", "CLIENT_DAILY_LIMIT"),
        ("APPROVAL_TIMEOUT", "0", "APPROVAL_TIMEOUT"),
        ("WEBHOOK_URL", "https://bot.example/hook", "WEBHOOK_SECRET"),
        ("WEB_PORT", "70000", "WEB_PORT"),
        ("BALANCE_ALERT_BELOW", "-5", "BALANCE_ALERT_BELOW"),
        ("BALANCE_ALERT_BELOW", "lots", "BALANCE_ALERT_BELOW"),
        ("BALANCE_ALERT_BELOW", "100.005", "BALANCE_ALERT_BELOW"),
        ("BALANCE_CHECK_EVERY", "5", "BALANCE_CHECK_EVERY"),
        ("BALANCE_CHECK_EVERY", "604800", "BALANCE_CHECK_EVERY"),
        ("WEBAPP_URL", "http://bot.example/desk/", "WEBAPP_URL"),
        ("WEBAPP_URL", "https://bot.example", "WEBAPP_URL"),
        ("WEBAPP_URL", "https://bot.example/desk/?a=1", "WEBAPP_URL"),
        ("WEBAPP_MAX_AGE", "10", "WEBAPP_MAX_AGE"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert needle in message and "\n" not in message
    if name == "BOT_TOKEN":
        assert value not in message


def test_the_desk_is_off_by_default_and_served_under_its_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = load_settings()
    assert s.webapp_url is None and s.webapp_path is None and s.webapp_max_age == 3600
    monkeypatch.setenv("WEBAPP_URL", "https://bot.example/desk")
    assert load_settings().webapp_path == "/desk/"
    monkeypatch.setenv("WEB_ENABLED", "false")
    with pytest.raises(ConfigError, match="WEB_ENABLED"):
        load_settings()
    monkeypatch.setenv("WEB_ENABLED", "true")
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example/desk/hook")
    monkeypatch.setenv("WEBHOOK_SECRET", "s" * 20)
    with pytest.raises(ConfigError, match="WEBAPP_URL"):
        load_settings()


def test_bad_value_stops_start_up_with_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "ALLPAY_TIMEOUT": "abc", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "ALLPAY_TIMEOUT" in lines[0] and "Traceback" not in done.stderr


def test_the_balance_watch_needs_allpays_balance_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Off by default; on the embedded sandbox it answers the balance itself; with a real
    Allpay, BALANCE_ALERT_BELOW without ALLPAY_TM_URL is refused in one line — by the bot's
    start and by ``python -m bot check`` alike (both load the settings first)."""
    s = load_settings()
    assert s.balance_alert_below is None and s.balance_check_every == 300
    monkeypatch.setenv("BALANCE_ALERT_BELOW", "500 000")
    monkeypatch.setenv("BALANCE_CHECK_EVERY", "60")
    s = load_settings()
    assert s.balance_alert_below == Decimal(500_000) and s.balance_check_every == 60
    for off in ("off", "0", "", "0.00"):
        monkeypatch.setenv("BALANCE_ALERT_BELOW", off)
        assert load_settings().balance_alert_below is None
    monkeypatch.setenv("BALANCE_ALERT_BELOW", "250000.50")
    for name in ("private.pem", "public.pem"):
        (tmp_path / name).write_text("key")
    real = {
        "ALLPAY_URL": "https://allpay.example/soap",
        "ALLPAY_REQUESTER": "agent",
        "ALLPAY_CERTIFICATE_NUMBER": "1",
        "ALLPAY_PRIVATE_KEY": str(tmp_path / "private.pem"),
        "ALLPAY_PUBLIC_KEY": str(tmp_path / "public.pem"),
        **PARTIES_ENV,
    }
    for name, value in real.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert "BALANCE_ALERT_BELOW needs ALLPAY_TM_URL" in message and "\n" not in message
    umask = os.umask(0o077)  # main() sets the bot's own: this process's is put back
    try:
        assert bot_main(["check"]) == 2
    finally:
        os.umask(umask)
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and "BALANCE_ALERT_BELOW needs ALLPAY_TM_URL" in said[0]
    monkeypatch.setenv("ALLPAY_TM_URL", "https://allpay.example/tm")
    assert load_settings().balance_alert_below == Decimal("250000.50")


PG_PASSWORD = "S3cr3t-pg-Passw0rd"
PG_URL = f"postgresql://cashin:{PG_PASSWORD}@127.0.0.1:1/cashin"  # port 1: nobody listens


def test_postgresql_needs_one_allpay_for_all_and_no_file_backups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", PG_URL)
    with pytest.raises(ConfigError, match="ALLPAY_URL is required") as refused:
        load_settings()
    assert PG_PASSWORD not in str(refused.value)
    monkeypatch.setenv("SANDBOX_DIR", "mine")  # one instance, a sandbox of its own…
    with pytest.raises(ConfigError, match="ALLPAY_SANDBOX=true") as refused:
        load_settings()  # …asked for by name: PostgreSQL says production
    monkeypatch.setenv("ALLPAY_SANDBOX", "true")
    settings = load_settings()
    assert settings.on_postgres and settings.sandbox_folder == Path("mine")
    assert PG_PASSWORD in settings.secret_values()  # redacted wherever it might show
    with pytest.raises(ValueError, match="no database file"):
        _ = settings.database_path
    monkeypatch.setenv("BACKUP_DIR", "backups")
    with pytest.raises(ConfigError, match="pg_dump"):
        load_settings()
    monkeypatch.setenv("DATABASE_URL", "postgresql:///cashin")
    monkeypatch.delenv("BACKUP_DIR")
    with pytest.raises(ConfigError, match="must name the server"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"postgresql://cashin:{PG_PASSWORD}@x@127.0.0.1/cashin", "percent-encode an @"),
        (f"postgresql://cashin:{PG_PASSWORD}@127.0.0.1:65536/cashin", "port"),
        (f"postgresql://cashin:{PG_PASSWORD}@:5432/cashin", "must name the server"),
    ],
)
def test_a_malformed_postgresql_url_is_refused_without_its_password(
    monkeypatch: pytest.MonkeyPatch, url: str, says: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SANDBOX_DIR", "mine")
    monkeypatch.setenv("ALLPAY_SANDBOX", "true")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert says in str(refused.value) and PG_PASSWORD not in str(refused.value)


def test_every_form_of_the_database_password_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_DIR", "mine")
    monkeypatch.setenv("ALLPAY_SANDBOX", "true")
    monkeypatch.setenv("DATABASE_URL", "postgresql://cashin:Tr%40ub%3Aa@db/cashin")
    assert {"Tr%40ub%3Aa", "Tr@ub:a"} <= set(load_settings().secret_values())
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql://cashin@db/cashin?password=p%26q&sslmode=require"
    )
    assert {"p%26q", "p&q"} <= set(load_settings().secret_values())
    assert "p%26q" not in repr(load_settings())  # not in the settings' repr either
    monkeypatch.setenv("REDIS_URL", "redis://:Sup3r%2FSecretPw@redis:6379/0")
    assert {"Sup3r%2FSecretPw", "Sup3r/SecretPw"} <= set(load_settings().secret_values())
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0?password=Sup3rSecretPw9")
    assert "Sup3rSecretPw9" in load_settings().secret_values()


@pytest.mark.parametrize("command", [[], ["backup", "out"], ["check"]])
def test_an_unreachable_postgresql_is_one_line_without_its_password(
    tmp_path: Path, command: list[str]
) -> None:
    env = {
        **child_env(),
        "HOME": str(tmp_path),
        "DATABASE_URL": PG_URL,
        "SANDBOX_DIR": str(tmp_path / "sandbox"),
        "ALLPAY_SANDBOX": "true",
        "BOT_TOKEN": "123456:TEST-token-abcdefghijklmnopqrstuvwxyz",
        "TELEGRAM_API_URL": "http://127.0.0.1:1",
        "ADMIN_IDS": "100",  # no warning of its own: the one line is the database's
    }
    done = spawn.run(command, env=env, cwd=tmp_path, text=True, timeout=120)
    assert done.returncode != 0
    assert PG_PASSWORD not in done.stdout + done.stderr and "Traceback" not in done.stderr
    if command == ["backup", "out"]:
        assert "pg_dump" in done.stderr and done.returncode == 2
    elif command == ["check"]:
        [line] = [line for line in done.stdout.splitlines() if line.startswith("❌ database")]
        assert "postgresql://cashin@127.0.0.1:1/cashin" in line
    else:
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("the bot stopped:") and "127.0.0.1" in line


def test_help_lists_the_commands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    for command in ("run", "sandbox"):
        assert command in done.stdout


@pytest.mark.parametrize(
    ("typed", "code"),
    [("kz", "kk"), ("KK", "kk"), ("kk-KZ", "kk"), ("ru", "ru"), ("en-US", "en"), ("de", None)],
)
def test_language_codes(typed: str, code: str | None) -> None:
    assert normalize_language(typed) == code
