"""The browser tests' own ground (tests/browser.py): Debian's Chromium starts, a page on
loopback gets the stand-in ``telegram-web-app.js`` with initData the server accepts as
Telegram's, and what would leave loopback or log an error is caught."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiogram.utils.web_app import safe_parse_webapp_init_data
from aiohttp import web

from tests.browser import TELEGRAM_SCRIPT, MiniApp, OpenMiniApp, telegram_user
from tests.harness import TOKEN

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: A Mini App in miniature: Telegram's script, the signed initData sent in a header (never
#: in a URL), a figure and an SVG chart drawn from the answer.
PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="{TELEGRAM_SCRIPT}"></script>
<style>
  body {{ font-family: "DejaVu Sans", sans-serif; margin: 12px;
         background: var(--bg); color: var(--fg); }}
  rect {{ fill: var(--button); }}
</style></head>
<body>
<h1 data-testid="who">…</h1>
<p data-testid="total"></p>
<svg data-testid="chart" width="336" height="120" role="img"></svg>
<script>
  const app = window.Telegram.WebApp;
  app.ready();
  app.expand();
  document.body.style.setProperty("--bg", app.themeParams.bg_color);
  document.body.style.setProperty("--fg", app.themeParams.text_color);
  document.body.style.setProperty("--button", app.themeParams.button_color);
  fetch("/api/me", {{ headers: {{ Authorization: "tma " + app.initData }} }})
    .then((answer) => answer.json())
    .then((me) => {{
      document.querySelector("[data-testid=who]").textContent = me.greeting;
      document.querySelector("[data-testid=total]").textContent = me.total;
      const svg = document.querySelector("[data-testid=chart]");
      me.bars.forEach((value, at) => {{
        const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
        bar.setAttribute("x", String(at * 14));
        bar.setAttribute("width", "10");
        bar.setAttribute("y", String(120 - value));
        bar.setAttribute("height", String(value));
        svg.appendChild(bar);
      }});
    }});
</script>
</body></html>
"""

GREETINGS = {"ru": "Привет, {name}", "kk": "Сәлем, {name}", "en": "Hello, {name}"}


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def _me(request: web.Request) -> web.Response:
    header = request.headers.get("Authorization", "")
    try:
        data = safe_parse_webapp_init_data(TOKEN, header.removeprefix("tma "))
    except ValueError:
        return web.json_response({"error": "unauthorized"}, status=401)
    assert data.user is not None
    greeting = GREETINGS.get(data.user.language_code or "en", GREETINGS["en"])
    bars = [10, 40, 75, 100, 60, 20]
    return web.json_response(
        {"greeting": greeting.format(name=data.user.first_name), "total": "1 250 ₸", "bars": bars}
    )


@pytest_asyncio.fixture(loop_scope="module")
async def tiny_site() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/", _page)
    app.router.add_get("/api/me", _me)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


async def test_a_page_opens_as_a_mini_app(mini_app: OpenMiniApp, tiny_site: str) -> None:
    """The stand-in script is Telegram's for the page, its initData passes aiogram's check
    on the server, the page draws its figure and chart at 360×740 in the person's language
    (Kazakh letters drawn by the DejaVu font), with no console error and nothing fetched
    past loopback."""
    user = telegram_user(300, "kk", "Айгерім")
    mini: MiniApp = await mini_app(tiny_site, token=TOKEN, user=user)
    who = mini.page.get_by_test_id("who")
    await who.filter(has_text="Айгерім").wait_for()
    assert await who.inner_text() == GREETINGS["kk"].format(name="Айгерім")
    assert await mini.page.get_by_test_id("total").inner_text() == "1 250 ₸"
    assert await mini.page.locator("[data-testid=chart] rect").count() == 6
    assert await mini.telegram_calls() == ["ready", "expand"]
    assert await mini.page.evaluate("[innerWidth, innerHeight]") == [360, 740]
    shot = await mini.shot("tiny-kk")
    assert shot.read_bytes().startswith(b"\x89PNG")


async def test_what_the_fixture_catches(mini_app: OpenMiniApp, tiny_site: str) -> None:
    """Another bot's initData fails the server's check (the stand-in signs with the token it
    is given); a request to any address past loopback is refused and reported, and so is
    the console error each leaves — the fixture fails a test that has any (cleared here)."""
    mini = await mini_app(tiny_site, token="654321:ANOTHER-bot", user=telegram_user(300))
    await mini.page.wait_for_function("window.__telegramCalls.length >= 2")
    answer = await mini.page.evaluate(
        "fetch('/api/me', {headers: {Authorization: 'tma ' + Telegram.WebApp.initData}})"
        ".then((r) => r.status)"
    )
    assert answer == 401
    outcome = await mini.page.evaluate(
        "fetch('https://cdn.example.com/chart.js').then(() => 'fetched', () => 'refused')"
    )
    assert outcome == "refused"
    await mini.page.evaluate(
        "new Promise((done) => { const i = new Image(); i.onerror = done; "
        "i.src = 'https://fonts.example.net/x.png'; })"
    )
    assert mini.leaks == ["https://cdn.example.com/chart.js", "https://fonts.example.net/x.png"]
    await mini.page.wait_for_timeout(100)
    assert any("401" in error for error in mini.errors)  # the page's unhandled refusal
    assert any("ERR_BLOCKED_BY_CLIENT" in error for error in mini.errors)
    mini.leaks.clear()
    mini.errors.clear()
