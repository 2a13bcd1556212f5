"""The bot's HTTP side: ``/healthz``, ``/metrics`` and, in webhook mode, Telegram's updates.

Who may reach what:

* **Polling mode**: ``WEB_HOST:WEB_PORT`` (loopback by default) serves ``/healthz`` and
  ``/metrics`` for the container's health check and a Prometheus scraper on the same host or
  network. ``WEB_ENABLED=false`` turns it off.
* **The desk** (``WEBAPP_URL`` set): its page and API under that URL's path, on the main
  listener in either mode (beside the webhook in webhook mode: public, and every API call
  signed by Telegram; see :mod:`bot.telegram.desk`).
* **Webhook mode**: the public listener ``WEB_HOST:WEB_PORT`` serves only the webhook path
  (and the desk);
  ``/healthz`` and ``/metrics`` move to their own listener ``METRICS_HOST:METRICS_PORT``
  (loopback by default), so what faces the internet is the one path Telegram posts to. A
  webhook request without the right ``X-Telegram-Bot-Api-Secret-Token`` (missing, wrong, or
  not even ASCII) gets a plain 401 and reaches no handler.

Neither endpoint shows personal data or secrets: counts, ages and timestamps only.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bot.domain.clock import utcnow
from bot.infra.outage import Part
from bot.wiring.metrics import Vitals

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.wiring.running import App

log = logging.getLogger(__name__)
#: How long /healthz waits for a write probe (SQLite's lock wait and PostgreSQL's are 5 s).
HEALTH_DATABASE_WAIT = 10.0

APP_KEY: web.AppKey[App] = web.AppKey("bot_app")


def _iso(moment: Any) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


async def health(app: App) -> tuple[bool, dict[str, Any]]:
    """Healthy when the database takes writes and the background loops run.

    Allpay's and Telegram's reachability are reported but do not make the bot unhealthy:
    restarting the bot would bring neither back, and would stop the resends of pending
    payments that go on without Telegram.
    """
    try:  # a database that does not answer is not writable, and /healthz still answers
        async with asyncio.timeout(HEALTH_DATABASE_WAIT):
            writable = await app.db.writable()
    except TimeoutError:
        writable = False
    loops = {
        loop.name: {
            "alive": loop.alive,
            "last_run": _iso(loop.last_run),
            "failing_since": _iso(loop.failing_since),
        }
        for loop in app.loops
    }
    shared: dict[str, Any] = {}
    if app.redis is not None:
        # Conversations live there: an instance that cannot reach it must take no updates.
        shared["redis"] = {"reachable": await _pings(app.redis, app.parts.redis)}
    healthy = (
        writable
        and all(item["alive"] for item in loops.values())
        and all(item["reachable"] for item in shared.values())
    )
    body: dict[str, Any] = {
        "status": "ok" if healthy else "unhealthy",
        "time": _iso(utcnow()),
        "database": {"writable": writable},
        **shared,
        **loops,
        "allpay": {"last_success": _iso(app.allpay.last_success)},
        "telegram": {
            "reachable": app.telegram.reachable,
            "last_success": _iso(app.telegram.last_success),
            "last_error": app.telegram.last_error,
        },
    }
    return healthy, body


async def _pings(redis: Redis, part: Part | None = None) -> bool:
    """Whether Redis answers a PING within 2 s; told to its ``part`` (one log line each way)."""
    from redis.exceptions import RedisError  # loaded already: there is a Redis to ping

    try:
        async with asyncio.timeout(2.0):
            # redis' stubs type ping() for the sync and async clients at once.
            answer: Any = redis.ping()
            alive = bool(await answer)
    except (TimeoutError, RedisError, OSError) as exc:
        if part is not None:
            part.failed(type(exc).__name__)
        return False
    if part is not None and alive:
        part.answered()
    return alive


async def _healthz(request: web.Request) -> web.Response:
    healthy, body = await health(request.app[APP_KEY])
    return web.json_response(body, status=200 if healthy else 503)


def vitals_of(app: App) -> Vitals:
    """What a scrape asks of the running bot beside the journal's figures."""
    redis = app.redis
    return Vitals(
        writable=app.db.writable,
        telegram=app.telegram,
        loops={loop.name: loop for loop in app.loops},
        redis=(lambda: _pings(redis, app.parts.redis)) if redis is not None else None,
        pending_alert_after=app.settings.pending_alert_after,
        allpay_last_success=app.allpay.last_success,
        balance=app.balance.state if app.balance is not None else None,
        balance_alert_below=app.settings.balance_alert_below,
    )


async def _metrics(request: web.Request) -> web.Response:
    """Answers within about 2 s whatever is down: a journal, Redis or Telegram that does not
    answer is a 0 in its gauge (the journal's figures then the last known), never an error."""
    app = request.app[APP_KEY]
    body = await app.metrics.render(app.reports, vitals_of(app))
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def _webhook(secret: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Telegram's POSTs: the secret header compared as bytes (a header that is not ASCII is a
    wrong secret: 401, not a server error), the update kept in the journal, then 200 —
    handled after the answer, so a handler's paced wait never holds Telegram's request open,
    and a process killed mid-handler loses nothing (:mod:`bot.telegram.runtime.intake`)."""
    expected = secret.encode()

    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected):
            return web.Response(status=401, text="Unauthorized")
        app = request.app[APP_KEY]
        try:
            update = Update.model_validate(await request.json(), context={"bot": app.bot})
        except (ValueError, ValidationError):
            # Never from Telegram; answered 200 all the same, so nothing is sent again.
            log.warning("webhook: a request that is not an update was ignored")
            return web.Response(status=200)
        await app.intake.accept([update])
        return web.Response(status=200)

    return handle


def build_web_app(
    app: App, *, status: bool = True, webhook: bool = True, desk: bool = True
) -> web.Application:
    """``status``: /healthz and /metrics; ``webhook``: the webhook path, if one is set;
    ``desk``: the supervisor's desk under WEBAPP_URL's path, if one is set."""
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[APP_KEY] = app
    if desk and app.settings.webapp_path is not None:
        _add_desk(web_app, app, app.settings.webapp_path)
    if status:
        web_app.router.add_get("/healthz", _healthz)
        web_app.router.add_get("/metrics", _metrics)
    path = app.settings.webhook_path
    if webhook and path is not None:
        secret = app.settings.webhook_secret
        assert secret is not None  # settings require it with WEBHOOK_URL
        web_app.router.add_post(path, _webhook(secret.get_secret_value()))
    return web_app


def _add_desk(web_app: web.Application, app: App, prefix: str) -> None:
    """The desk's page and API (its code loaded here, only when WEBAPP_URL is set)."""
    from bot.telegram.desk.api import DeskParts
    from bot.telegram.desk.page import add_desk

    parts = DeskParts(
        token=app.bot.token,  # initData is signed with the key made of the bot's token
        max_age=float(app.settings.webapp_max_age),
        dashboard=app.dashboard,
        approvals=app.desk,
        cash=app.cash,
        reports=app.reports,
        people=app.people,
        bot=app.bot,
        i18n=app.i18n,
        tz=app.settings.tz,
        sandbox=app.settings.uses_sandbox,
    )
    add_desk(web_app, prefix, parts)


async def _listen(web_app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def start_web(app: App, host: str, port: int) -> web.AppRunner:
    """The main listener: status pages in polling mode, the webhook in webhook mode, the desk
    when WEBAPP_URL is set. A listener that faces the internet (a webhook or the desk) has
    no status pages: they are on :func:`start_status`'s."""
    webhook = app.settings.webhook_path
    desk = app.settings.webapp_path
    public = webhook is not None or desk is not None
    runner = await _listen(build_web_app(app, status=not public), host, port)
    serves = [f"webhook at {webhook}"] if webhook else []
    serves += [f"the desk at {desk}"] if desk else []
    log.info(
        "HTTP on %s:%d: %s",
        host,
        runner.addresses[0][1],
        ", ".join(serves or ["/healthz, /metrics"]),
    )
    return runner


async def start_status(app: App, host: str, port: int) -> web.AppRunner:
    """The second listener of a bot whose web port faces the internet (a webhook, the desk):
    /healthz and /metrics, off the public port."""
    runner = await _listen(build_web_app(app, webhook=False, desk=False), host, port)
    log.info("HTTP on %s:%d: /healthz, /metrics", host, runner.addresses[0][1])
    return runner
