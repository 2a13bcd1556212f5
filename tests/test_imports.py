"""A deployment loads what it uses: the bot on SQLite without Redis, talking to a real
Allpay, never loads the PDF, XLSX, chart, PostgreSQL or Redis libraries, nor the stand-ins in
``bot.devtools`` (together ~60 MB of an idle bot's memory, before matplotlib and numpy;
bench/ table 7). Each loads when used: the first receipt, export or chart, a
``postgresql://`` DATABASE_URL, a REDIS_URL, the embedded sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.config.settings import Settings
from bot.devtools.sandbox import ensure_sandbox_keys
from bot.store.backends import open_database
from bot.telegram.runtime.storage import SQLiteStorage
from bot.wiring.clients import conversation_storage
from tests.harness import PARTIES_ENV, TOKEN, child_env, free_port, settings_for

ROOT = Path(__file__).resolve().parents[1]
#: Top-level packages (and bot.devtools) a SQLite deployment without Redis must not load.
#: The supervisor's desk (bot.telegram.desk) loads with WEBAPP_URL only.
UNUSED = (
    "fpdf",
    "fontTools",
    "segno",
    "openpyxl",
    "matplotlib",
    "numpy",
    "psycopg",
    "redis",
    "bot.devtools",
    "bot.telegram.desk",
)

#: Run in a fresh interpreter: the run path's imports (``python -m bot``), then the whole
#: app built, started and stopped as ``python -m bot`` does (routers, loops, storage).
SCRIPT = """
import asyncio, json, sys

import bot.__main__
from bot.wiring.app import build_app
from bot.wiring.web import build_web_app
from bot.config.settings import Settings


async def main() -> None:
    async with build_app(Settings(_env_file=None)) as app:
        assert app.sandbox is None and app.redis is None
        build_web_app(app)  # the main listener's routes, as start_web makes them
        await asyncio.sleep(0.2)  # the loops' first passes


asyncio.run(main())
print(json.dumps(sorted(sys.modules)))
"""


def _fresh(script: str, env: dict[str, str], cwd: Path, *args: str) -> Any:
    """Run ``script`` in a fresh interpreter: the JSON its last line prints."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def _loaded(names: list[str]) -> list[str]:
    return [name for name in names if any(name == u or name.startswith(u + ".") for u in UNUSED)]


def test_a_sqlite_bot_without_redis_loads_no_library_it_does_not_use(tmp_path: Path) -> None:
    keys = ensure_sandbox_keys(tmp_path / "keys")
    closed = f"http://127.0.0.1:{free_port()}"  # nothing is sent: building calls no one
    env = {
        **child_env(early_tracer=True),  # what a fresh interpreter loads, hook or not
        "HOME": str(tmp_path),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": closed,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cashin.sqlite3'}",
        "ALLPAY_URL": f"{closed}/soap",
        "ALLPAY_REQUESTER": "agent-test",
        "ALLPAY_CERTIFICATE_NUMBER": keys.certificate_number,
        "ALLPAY_PRIVATE_KEY": str(keys.agent_private),
        "ALLPAY_PUBLIC_KEY": str(keys.allpay_public),
        **PARTIES_ENV,
        "CASHIER_IDS": "200",
        "DIGEST_TIME": "off",
        "LOG_LEVEL": "WARNING",
    }
    modules = _fresh(SCRIPT, env, tmp_path)
    assert "bot.telegram.routers" in modules and "aiogram" in modules  # it did build
    assert "bot.wiring.web" in modules
    assert _loaded(modules) == []


async def test_redis_loads_with_redis_url_only(tmp_path: Path) -> None:
    """Without REDIS_URL the conversations stay in the journal and no Redis client is made;
    with it, the storage is aiogram's RedisStorage (built, not connected) with its client."""
    db = open_database(f"sqlite:///{tmp_path / 'cashin.sqlite3'}")
    plain = settings_for(tmp_path, "http://127.0.0.1:1")
    storage, _isolation, redis = conversation_storage(plain, db)
    assert isinstance(storage, SQLiteStorage) and redis is None
    shared: Settings = settings_for(
        tmp_path, "http://127.0.0.1:1", redis_url="redis://127.0.0.1:1/0"
    )
    storage, isolation, redis = conversation_storage(shared, db)
    try:
        assert type(storage).__module__ == "aiogram.fsm.storage.redis" and redis is not None
        assert type(isolation).__name__ == "RenewedRedisIsolation"
    finally:
        await isolation.close()
        await storage.close()


#: The commands that never talk to Telegram, in a fresh interpreter: what they loaded.
QUICK = """
import contextlib, io, json, sys

from bot.__main__ import main

codes = []
for argv in (["--help"], ["health"], ["backup", sys.argv[1]]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            codes.append(main(argv))
        except SystemExit as exit:
            codes.append(exit.code)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("aiogram", "aiohttp"))
print(json.dumps([codes, loaded]))
"""


def test_health_backup_and_help_start_without_aiogram(tmp_path: Path) -> None:
    """Docker's HEALTHCHECK runs ``python -m bot health`` every 30 s: without aiogram's ~450
    models it starts in a tenth of the time (and a settings error says its line as fast)."""
    env = {
        **child_env(early_tracer=True),
        "HOME": str(tmp_path),
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'none.sqlite3'}",
        "WEB_PORT": str(free_port()),  # nothing listens: unhealthy
        "ADMIN_IDS": "100",
    }
    codes, loaded = _fresh(QUICK, env, tmp_path, str(tmp_path / "copy.sqlite3"))
    assert codes == [0, 1, 1]  # help; nothing to ask; no journal to copy
    assert loaded == []
