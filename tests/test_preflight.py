"""``python -m bot check`` as an operator runs it: one line per check, exit 0 only if all
pass — all ✅ on the embedded sandbox; a wrong key, an unreachable endpoint, a key file
others can read and a bad token each give the one ❌ line that says what to fix."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.allpay.signing import generate_key_pair
from bot.devtools.sandbox import RunningSandbox
from bot.devtools.telegram import FakeTelegram
from tests.childstart import spawn
from tests.fixtures import sandbox_folder
from tests.harness import PARTIES_ENV, TOKEN, child_env, free_port

#: The backend is what these tests are about: each runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.backends

ROOT = Path(__file__).resolve().parents[1]


async def _check(env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    process = await spawn.start(
        ["check"], cwd=cwd, env={**child_env(), **env}, stdout=spawn.PIPE, stderr=spawn.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    assert TOKEN.split(":")[1] not in text  # no secret on screen, whatever fails
    return int(process.returncode or 0), text.splitlines()


def _failed(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("❌")]


async def test_all_green_on_the_embedded_sandbox(
    tmp_path: Path, sandbox_keys: Path, telegram: FakeTelegram, database_url: str
) -> None:
    telegram.tokens = {TOKEN}
    env = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.base_url,
        "DATABASE_URL": database_url,
        "SANDBOX_DIR": str(sandbox_folder(tmp_path, sandbox_keys)),
        "ALLPAY_SANDBOX": "true",  # asked for by name: a PostgreSQL journal says production
        "ADMIN_IDS": "1001",
    }
    code, lines = await _check(env, tmp_path)
    assert code == 0, lines
    names = [line.split(":")[0] for line in lines]
    assert names == [
        "✅ settings",
        "✅ Allpay echo",
        "✅ Allpay availableBalance",
        "✅ Telegram getMe",
        "✅ Telegram getWebhookInfo",
        "✅ database",
    ], lines
    assert "signed answer verified" in lines[1] and "@allpay_cashin_bot" in lines[3]
    assert "created at the first start" in lines[5], lines[5]


#: Each fault (one at a time, in a subprocess each: run side by side across workers).
FAULTS = ("none", "wrong key", "nowhere", "key others can read", "bad token")


@pytest.mark.parametrize("fault", FAULTS)
async def test_each_fault_is_the_one_red_line_that_says_what_to_fix(
    tmp_path: Path, sandbox: RunningSandbox, telegram: FakeTelegram, fault: str
) -> None:
    telegram.tokens = {TOKEN}
    keys = sandbox.keys
    real = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'cashin.sqlite3'}",
        "ALLPAY_URL": sandbox.url,
        "ALLPAY_REQUESTER": "agent-check",
        "ALLPAY_CERTIFICATE_NUMBER": keys.certificate_number,
        "ALLPAY_PRIVATE_KEY": str(keys.agent_private),
        "ALLPAY_PUBLIC_KEY": str(keys.allpay_public),
        "ALLPAY_TM_URL": sandbox.tm_url,
        **PARTIES_ENV,
    }
    if fault == "none":
        code, lines = await _check(real, tmp_path)
        assert code == 0 and not _failed(lines), lines

    elif fault == "wrong key":
        other = tmp_path / "other"
        other.mkdir()
        generate_key_pair(other / "wrong.key.pem", other / "wrong.pub.pem", bits=2048)
        (other / "wrong.key.pem").chmod(0o600)
        code, lines = await _check(
            {**real, "ALLPAY_PRIVATE_KEY": str(other / "wrong.key.pem")}, tmp_path
        )
        assert len(_failed(lines)) == 1, "\n".join(lines)
        [red] = _failed(lines)
        assert code == 1 and red.startswith("❌ Allpay echo") and "ALLPAY_PRIVATE_KEY" in red, lines

    elif fault == "nowhere":
        nowhere = f"http://127.0.0.1:{free_port()}/allpay"
        code, lines = await _check({**real, "ALLPAY_URL": nowhere, "ALLPAY_TM_URL": ""}, tmp_path)
        [red] = _failed(lines)
        assert code == 1 and red.startswith("❌ Allpay echo") and "check the URL" in red, lines
        assert any(line.startswith("➖ Allpay availableBalance") for line in lines)  # optional

    elif fault == "key others can read":
        keys.agent_private.chmod(0o644)
        try:
            code, lines = await _check(real, tmp_path)
        finally:
            keys.agent_private.chmod(0o600)
        [red] = _failed(lines)
        assert code == 1 and red.startswith("❌ ALLPAY_PRIVATE_KEY") and "chmod 600" in red, lines

    else:
        assert fault == "bad token"
        code, lines = await _check({**real, "BOT_TOKEN": "123456:not-the-bots-token"}, tmp_path)
        [red] = _failed(lines)
        assert code == 1 and red.startswith("❌ Telegram getMe") and "BOT_TOKEN" in red, lines
        assert "not-the-bots-token" not in "\n".join(lines)


async def test_no_admin_ids_is_said_by_the_check_and_at_start(
    tmp_path: Path,
    sandbox_keys: Path,
    telegram: FakeTelegram,
    controlled: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 26, item 14: with no ``ADMIN_IDS`` the bot started without a word."""
    telegram.tokens = {TOKEN}
    env = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'cashin.sqlite3'}",
        "SANDBOX_DIR": str(sandbox_folder(tmp_path, sandbox_keys)),
    }
    code, lines = await _check(env, tmp_path)
    warned = [line for line in lines if line.startswith("⚠️ ADMIN_IDS:")]
    assert code == 0 and not _failed(lines), lines  # a warning: the bot still runs
    assert len(warned) == 1 and "set ADMIN_IDS" in warned[0], lines
    assert lines[1] == warned[0], lines  # next to the settings it is about

    caplog.set_level(logging.WARNING)
    async with controlled(admin_ids=[]):
        pass
    said = [r for r in caplog.records if "ADMIN_IDS" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.WARNING], [r.getMessage() for r in said]
    assert "set ADMIN_IDS" in said[0].getMessage()

    caplog.clear()
    async with controlled():  # ADMIN_IDS set: not a word about it
        pass
    assert not [r for r in caplog.records if "ADMIN_IDS" in r.getMessage()]
