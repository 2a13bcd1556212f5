"""Browser tests' fixtures: Debian's Chromium driven by Playwright, a Mini App opened as in
Telegram, and nothing reaching past loopback.

- ``browser``: one headless Chromium per test module (its start is the costly part: a few
  CPU-seconds), launched from ``/usr/bin/chromium`` (Debian's ``chromium``; ``.ci/run``
  installs it with ``fonts-dejavu-core``) — Playwright downloads no browser. Where it is
  absent the test skips with one line, except where it is required (``CI=true``, or
  ``CASHIN_TEST_SERVICES=required`` as ``.ci/run`` sets): there it fails. A module using it
  runs its tests on one event loop (``pytestmark = pytest.mark.asyncio(loop_scope="module")``).
- ``mini_app``: opens a page at 360×740 as Telegram would — ``telegram-web-app.js`` is
  answered by ``tests/telegram-web-app.js`` through ``page.route`` (with ``initData`` signed
  for the test's person with the bot's token by ``tests/webapp.py::sign_init_data``); any
  other request leaving 127.0.0.1 is refused and fails the test, and so does any console
  error or uncaught exception. Screenshots go to the test's ``tmp_path``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from tests.webapp import sign_init_data

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Route

CHROMIUM = Path("/usr/bin/chromium")
#: Looked at once, at import: whether this machine has it.
HAVE_CHROMIUM = CHROMIUM.exists()
TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
STAND_IN_SCRIPT = Path(__file__).with_name("telegram-web-app.js")
#: A phone held in one hand (the issue's 360 px); Telegram's Mini App sheet on it.
VIEWPORT = {"width": 360, "height": 740}
LOOPBACK = frozenset({"127.0.0.1"})


def browser_required() -> bool:
    """Where Chromium is part of the machine (CI), its absence is a failure, not a skip."""
    return (
        os.environ.get("CI") == "true"
        or os.environ.get("CASHIN_TEST_SERVICES") == "required"  # .ci/run
    )


def telegram_user(user_id: int, language_code: str = "en", first_name: str = "") -> dict[str, Any]:
    """The person who opens the Mini App, as ``initDataUnsafe.user`` names them."""
    return {
        "id": user_id,
        "first_name": first_name or f"User{user_id}",
        "language_code": language_code,
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the module's tests (Debian's, through executable_path)."""
    if not HAVE_CHROMIUM:
        reason = f"Chromium not found at {CHROMIUM} (Debian's chromium, fonts-dejavu-core)"
        if browser_required():
            pytest.fail(f"{reason}: required here (.ci/run installs it)", pytrace=False)
        pytest.skip(f"{reason}; .ci/run runs the browser tests")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # No GPU on a CI machine; a small /dev/shm in a container.
            args=["--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class MiniApp:
    """One page opened as Telegram opens a Mini App, and what it did wrong."""

    page: Page
    context: BrowserContext
    folder: Path
    #: Console errors and uncaught exceptions, in order.
    errors: list[str] = field(default_factory=list)
    #: Requests that tried to leave loopback (refused).
    leaks: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    async def shot(self, name: str) -> Path:
        """A full-page screenshot in the test's temporary folder."""
        path = self.folder / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path

    async def telegram_calls(self) -> list[str]:
        """What the page asked of ``Telegram.WebApp`` (ready, expand, showAlert, …)."""
        calls: list[dict[str, Any]] = await self.page.evaluate("window.__telegramCalls || []")
        return [str(call["name"]) for call in calls]


#: ``open(url, *, token, user, color_scheme="light", auth_date=None, confirm=True)``.
OpenMiniApp = Callable[..., Awaitable[MiniApp]]


@pytest_asyncio.fixture(loop_scope="module")
async def mini_app(browser: Browser, tmp_path: Path) -> AsyncIterator[OpenMiniApp]:
    """Open pages as Mini Apps; after the test, none may have had a console error or tried
    to reach past loopback."""
    opened: list[MiniApp] = []
    script = STAND_IN_SCRIPT.read_text(encoding="utf-8")

    async def open_page(
        url: str,
        *,
        token: str,
        user: dict[str, Any],
        color_scheme: str = "light",
        auth_date: int | None = None,
        confirm: bool = True,
        theme: dict[str, str] | None = None,
    ) -> MiniApp:
        signed = sign_init_data(
            int(user["id"]),
            token=token,
            auth_date=auth_date,
            first_name=str(user.get("first_name") or "Test"),
            language_code=user.get("language_code"),
        )
        given: dict[str, Any] = {
            "initData": signed,
            "colorScheme": color_scheme,
            "confirm": confirm,
        }
        if theme is not None:
            given["themeParams"] = theme
        body = f"window.__telegramStandIn = {json.dumps(given)};\n{script}"
        context = await browser.new_context(
            viewport=VIEWPORT,  # type: ignore[arg-type]
            device_scale_factor=1,
            locale=str(user.get("language_code") or "en"),
            color_scheme="dark" if color_scheme == "dark" else "light",
            service_workers="block",
        )
        folder = tmp_path / "screenshots"
        folder.mkdir(exist_ok=True)
        page = await context.new_page()
        mini = MiniApp(page, context, folder)
        opened.append(mini)

        async def route(route: Route) -> None:
            address = route.request.url
            if address.split("?", 1)[0] == TELEGRAM_SCRIPT:
                await route.fulfill(
                    status=200, content_type="application/javascript; charset=utf-8", body=body
                )
            elif urlsplit(address).hostname in LOOPBACK:
                await route.continue_()
            else:
                mini.leaks.append(address)
                await route.abort("blockedbyclient")

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                mini.errors.append(f"console: {message.text} ({message.location.get('url')})")

        await context.route("**/*", route)
        page.on("console", console)
        page.on("pageerror", lambda exc: mini.errors.append(f"uncaught: {exc}"))
        await page.goto(url)
        return mini

    yield open_page
    problems: list[str] = []
    for mini in opened:
        if not mini.page.is_closed():
            try:
                await mini.shot("last")
            except Exception as exc:
                problems.append(f"no last screenshot: {exc}")
        await mini.context.close()
        problems += [f"left loopback: {address}" for address in mini.leaks]
        problems += mini.errors
    if problems:
        pytest.fail("the Mini App misbehaved:\n" + "\n".join(problems), pytrace=False)
