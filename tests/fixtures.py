"""The suite's fixtures, a plugin ``tests/conftest.py`` loads in the processes that run tests
(not in xdist's controller, which only hands tests out: it starts its workers sooner)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import psycopg
import pytest
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.allpay.client import AllpayClient
from bot.allpay.signing import Signer, Verifier
from bot.config.settings import Settings
from bot.devtools.sandbox import RunningSandbox, ensure_sandbox_keys, start_sandbox
from bot.devtools.telegram import FakeTelegram
from bot.infra.logs import one_line
from bot.store.backends import open_database
from bot.store.db import Database
from tests.browser import browser, mini_app  # noqa: F401  (fixtures, found here by name)
from tests.harness import Harness, running_bot, settings_for, tiny_png

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ALMATY = ZoneInfo("Asia/Almaty")


@pytest.fixture(autouse=True)
def _charts_drawn_where_asked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day's chart (/report, the digest) is drawn by matplotlib only in tests marked
    ``draws``: loading it costs about a CPU-second per worker. Elsewhere a tiny real PNG
    stands in, so every test that sends a report still sends its picture."""
    if request.node.get_closest_marker("draws") is None:

        def small(hourly: Sequence[int], average: Sequence[float], words: object) -> bytes:
            assert len(hourly) == len(average) == 24
            return tiny_png()

        monkeypatch.setattr("bot.documents.chart.render_png", small)


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
    sandbox: RunningSandbox, *, timeout: float = 1.0, url: str | None = None
) -> AllpayClient:
    keys = sandbox.keys
    return AllpayClient(
        url or sandbox.url,
        requester="agent-test",
        signer=Signer.from_file(keys.agent_private, keys.certificate_number),
        verifier=Verifier.from_file(keys.allpay_public),
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


@pytest.fixture(scope="session")
def migrated_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite journal migrated once per session (each xdist worker's).

    A bot a test starts on SQLite finds a copy of it: what a restart finds, not a first
    start (migrating from empty, and from every earlier version, is tests/test_db.py's)."""
    path = tmp_path_factory.mktemp("journal") / "cashin.sqlite3"

    async def migrate() -> None:
        db = open_database(f"sqlite:///{path}")
        await db.open()
        await db.close()

    asyncio.run(migrate())
    return path


def start_from(migrated: Path, database_url: str) -> None:
    """The test's SQLite journal begins as a copy of the migrated one (if it is not there)."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(migrated, path)


@pytest.fixture
def controlled(
    tmp_path: Path,
    sandbox_keys: Path,
    telegram: FakeTelegram,
    database_url: str,
    migrated_journal: Path,
) -> Any:
    """Start the bot with chosen settings: ``async with controlled(**settings) as h``."""
    folder = sandbox_folder(tmp_path, sandbox_keys)
    start_from(migrated_journal, database_url)

    def settings(**overrides: Any) -> Settings:
        chosen = {"database_url": database_url, "sandbox_dir": folder, **overrides}
        return settings_for(tmp_path, telegram.base_url, **chosen)

    def start(**overrides: Any) -> Any:
        return running_bot(settings(**overrides), telegram)

    start.settings = settings  # type: ignore[attr-defined]  # the same, not started
    return start


@pytest.fixture
async def harness(controlled: Any) -> AsyncIterator[Harness]:
    """The bot on its defaults, on each backend; its embedded sandbox reuses session keys."""
    async with controlled() as h:
        yield h


# ---------------------------------------------------------------- shared services

#: ``.ci/run`` sets it: there the services are part of the machine, and a test that cannot
#: reach them fails. Elsewhere (a laptop with SQLite alone) such a test skips, saying why.
SERVICES_REQUIRED = os.environ.get("CASHIN_TEST_SERVICES") == "required"
REDIS_URL = os.environ.get("CASHIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


POSTGRES_URL = os.environ.get(
    "CASHIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def unreachable(what: str, url: str, exc: BaseException) -> NoReturn:
    """A shared service is missing: a failure where it is required, else a one-line skip."""
    reason = f"{what} at {url} is unreachable: {one_line(exc)}"
    if SERVICES_REQUIRED:
        pytest.fail(f"{reason} (required here: .ci/run)", pytrace=False)
    pytest.skip(f"{reason}; .ci/run runs this test")


def postgres_schema(schema: str) -> str:
    """``POSTGRES_URL`` with ``schema`` as its search path: the bot's tables go there."""
    return f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema of this test's own (dropped after)."""
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        unreachable("PostgreSQL", POSTGRES_URL, exc)
    schema = f"t{secrets.token_hex(6)}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield postgres_schema(schema)
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """This test's own database: SQLite, or a fresh PostgreSQL schema (see
    ``pytest_generate_tests`` in ``tests/conftest.py``)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return f"sqlite:///{tmp_path / 'cashin.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


#: The ``connect`` fixture: a new connection to the test's database, opened.
Connect = Callable[[], Awaitable[Database]]


@pytest.fixture
async def connect(database_url: str) -> AsyncIterator[Connect]:
    """Open a connection to this test's database (each one another process's, as it were);
    all closed after the test."""
    opened: list[Database] = []

    async def make() -> Database:
        db = open_database(database_url)
        opened.append(db)
        await db.open()
        return db

    yield make
    for db in reversed(opened):
        await db.close()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A Redis key prefix of this test's own at ``REDIS_URL`` (its keys deleted after)."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        unreachable("Redis", REDIS_URL, exc)
    prefix = f"t{secrets.token_hex(6)}"
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
