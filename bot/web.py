"""The bot's HTTP side: ``/healthz``, ``/metrics`` and, in webhook mode, Telegram's updates.

Served on ``WEB_HOST:WEB_PORT`` in both polling and webhook modes (``WEB_ENABLED=false``
turns it off in polling mode). A webhook request without the right
``X-Telegram-Bot-Api-Secret-Token`` gets 401 and reaches no handler.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.payments.db import utcnow

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

APP_KEY: web.AppKey[App] = web.AppKey("bot_app")


def _iso(moment: Any) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


async def health(app: App) -> tuple[bool, dict[str, Any]]:
    """Healthy when the database takes writes and the background loops run.

    Allpay's reachability is reported but does not make the bot unhealthy: restarting the bot
    would not bring Allpay back, and pending payments wait for it anyway.
    """
    writable = await app.db.writable()
    loops = {
        name: {"alive": loop.alive, "last_run": _iso(loop.last_run)}
        for name, loop in (("resolver", app.resolver), ("outbox", app.outbox))
    }
    healthy = writable and all(item["alive"] for item in loops.values())
    body: dict[str, Any] = {
        "status": "ok" if healthy else "unhealthy",
        "time": _iso(utcnow()),
        "database": {"writable": writable},
        **loops,
        "allpay": {"last_success": _iso(app.allpay.last_success)},
    }
    return healthy, body


async def _healthz(request: web.Request) -> web.Response:
    healthy, body = await health(request.app[APP_KEY])
    return web.json_response(body, status=200 if healthy else 503)


async def _metrics(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    body = await app.metrics.render(app.journal)
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def build_web_app(app: App) -> web.Application:
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[APP_KEY] = app
    web_app.router.add_get("/healthz", _healthz)
    web_app.router.add_get("/metrics", _metrics)
    path = app.settings.webhook_path
    if path is not None:
        secret = app.settings.webhook_secret
        assert secret is not None  # settings require it with WEBHOOK_URL
        SimpleRequestHandler(
            dispatcher=app.dispatcher,
            bot=app.bot,
            secret_token=secret.get_secret_value(),
            handle_in_background=False,  # Telegram re-sends what we did not finish
        ).register(web_app, path=path)
    return web_app


async def start_web(app: App, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(build_web_app(app), access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info(
        "HTTP on %s:%d: /healthz, /metrics%s",
        host,
        runner.addresses[0][1],
        f", webhook at {app.settings.webhook_path}" if app.settings.webhook_path else "",
    )
    return runner
