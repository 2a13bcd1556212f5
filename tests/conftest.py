from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.allpay.client import AllpayClient
from bot.allpay.signing import Signer, Verifier
from bot.devtools.sandbox import RunningSandbox, ensure_sandbox_keys, start_sandbox
from bot.devtools.telegram import FakeTelegram
from tests.harness import Harness, running_bot, settings_for

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ALMATY = ZoneInfo("Asia/Almaty")


@pytest.fixture
def shared() -> Path:
    """Allpay's reference data beside the project; absent on a user's fresh clone."""
    if not (SHARED / "allpay").is_dir():
        pytest.skip(f"reference data not found at {SHARED} (only beside the project checkout)")
    return SHARED


@pytest.fixture(scope="session")
def sandbox_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RSA keys are slow to make: one set per session, copied into each test's sandbox."""
    folder = tmp_path_factory.mktemp("keys")
    ensure_sandbox_keys(folder)
    return folder


def sandbox_folder(tmp_path: Path, sandbox_keys: Path) -> Path:
    folder = tmp_path / "sandbox"
    if not folder.exists():
        shutil.copytree(sandbox_keys, folder)
    return folder


@pytest.fixture
async def sandbox(tmp_path: Path, sandbox_keys: Path) -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(sandbox_folder(tmp_path, sandbox_keys), slow_delay=2.0)
    try:
        yield running
    finally:
        await running.close()


def make_client(
    sandbox: RunningSandbox, *, timeout: float = 1.0, url: str | None = None, verify: bool = True
) -> AllpayClient:
    keys = sandbox.keys
    return AllpayClient(
        url or sandbox.url,
        requester="agent-test",
        signer=Signer.from_file(keys.agent_private, keys.certificate_number),
        verifier=Verifier.from_file(keys.allpay_public) if verify else None,
        timeout=timeout,
        tz=ALMATY,
    )


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncIterator[AllpayClient]:
    async with make_client(sandbox) as c:
        yield c


Responder = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def fake_allpay() -> AsyncIterator[Callable[[Responder], Awaitable[str]]]:
    """Start a bare HTTP server on 127.0.0.1 that answers with whatever a test scripts."""
    runners: list[web.AppRunner] = []

    async def start(responder: Responder) -> str:
        app = web.Application()
        app.router.add_post("/soap", responder)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/soap"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    tg = FakeTelegram()
    await tg.start()
    try:
        yield tg
    finally:
        await tg.close()


@pytest.fixture
def controlled(tmp_path: Path, sandbox_keys: Path, telegram: FakeTelegram) -> Any:
    """Start the bot with chosen settings: ``async with controlled(**settings) as h``."""
    sandbox_folder(tmp_path, sandbox_keys)

    def start(**overrides: Any) -> Any:
        return running_bot(settings_for(tmp_path, telegram.base_url, **overrides), telegram)

    return start


@pytest.fixture
async def harness(
    tmp_path: Path, sandbox_keys: Path, telegram: FakeTelegram
) -> AsyncIterator[Harness]:
    sandbox_folder(tmp_path, sandbox_keys)  # the bot's embedded sandbox reuses session keys
    async with running_bot(settings_for(tmp_path, telegram.base_url), telegram) as h:
        yield h


# ---------------------------------------------------------------- shared services

#: ``.ci/run`` sets it: there the services are part of the machine, and a test that cannot
#: reach them fails. Elsewhere (a laptop with SQLite alone) such a test skips, saying why.
SERVICES_REQUIRED = os.environ.get("CASHIN_TEST_SERVICES") == "required"
REDIS_URL = os.environ.get("CASHIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A Redis key prefix of this test's own at ``REDIS_URL`` (its keys deleted after)."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        if SERVICES_REQUIRED:
            pytest.fail(f"Redis at {REDIS_URL} is required here (.ci/run) and unreachable: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL} ({exc}); .ci/run runs this test")
    prefix = f"t{secrets.token_hex(6)}"
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
