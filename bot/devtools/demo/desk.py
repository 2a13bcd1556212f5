"""The supervisor's desk in the demo: served on a loopback port of its own, and a link to it
signed for the demo's persona as Telegram signs a Mini App's launch data — carried in the
URL's fragment (``#tgWebAppData=…``), as Telegram itself hands it to the page, so it never
reaches a server's logs. Open it in a browser while chatting in the terminal."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import quote, urlencode

from aiohttp import web

from bot.wiring.running import App
from bot.wiring.web import build_web_app

#: The demo's desk: what its settings' WEBAPP_URL says (https, as Telegram wants; the page is
#: reached at the loopback address printed instead).
DEMO_WEBAPP_URL = "https://127.0.0.1/desk/"


def signed_init_data(token: str, user_id: int, name: str, language: str, now: datetime) -> str:
    """``Telegram.WebApp.initData`` for ``user_id``: the fields sorted as ``name=value``
    lines, HMAC-SHA256 keyed by HMAC-SHA256("WebAppData", token)."""
    user = json.dumps(
        {"id": user_id, "first_name": name, "language_code": language},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    fields = {"auth_date": str(int(now.timestamp())), "query_id": f"demo{user_id}", "user": user}
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


async def serve_desk(app: App) -> tuple[web.AppRunner, str]:
    """The desk on 127.0.0.1 (a free port): its runner and its base address."""
    runner = web.AppRunner(build_web_app(app, status=False, webhook=False), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}{app.settings.webapp_path}"


def desk_link(base: str, init_data: str) -> str:
    """The page's address with the launch data in its fragment, as Telegram opens it."""
    return f"{base}#tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion=7.0"
