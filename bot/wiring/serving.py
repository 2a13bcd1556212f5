"""Running the built bot until it is told to stop: reach Telegram (however long that takes),
serve /healthz and the webhook or poll, watch the background loops, and exit with the code
an operator reads (1: a loop died, or another process took this instance's name)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import TelegramNotFound, TelegramUnauthorizedError
from aiohttp import web

from bot.config.settings import ConfigError, Settings
from bot.infra.logs import one_line
from bot.infra.loops import wait_event
from bot.usecases.singleton import Singleton
from bot.wiring.app import announce, build_app
from bot.wiring.running import App
from bot.wiring.web import start_status, start_web

log = logging.getLogger(__name__)
T = TypeVar("T")


#: Start-up's waits between attempts to reach Telegram: doubling up to a minute.
CONNECT_BACKOFF = (1.0, 60.0)


async def until_answered(
    call: Callable[[], Awaitable[T]], what: str, stop: asyncio.Event
) -> T | None:
    """``call`` Telegram until it answers, however long that takes: payments left pending are
    resent meanwhile (the resolver runs already). One log line per failed attempt, waits
    doubling up to a minute. None if ``stop`` came first.

    A token Telegram refuses stops start-up with one line (``ConfigError``): waiting would
    not fix it.
    """
    delay, attempt = CONNECT_BACKOFF[0], 0
    while not stop.is_set():
        attempt += 1
        try:
            return await call()
        except (TelegramUnauthorizedError, TelegramNotFound):
            raise ConfigError(
                "configuration error: BOT_TOKEN: Telegram does not accept this token"
            ) from None
        except Exception as exc:
            log.warning(
                "Telegram did not answer %s (attempt %d): %s; trying again in %.0f s; "
                "pending payments are being resent meanwhile",
                what,
                attempt,
                one_line(exc),
                delay,
            )
            await wait_event(stop, delay)
            delay = min(delay * 2, CONNECT_BACKOFF[1])
    return None


async def run_bot(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``): take no new updates, let in-flight payment steps
    reach the journal (the resolver resumes anything unfinished at the next start), close."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        return await _run(settings, stop)
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


async def _watch_loops(app: App, stop: asyncio.Event) -> None:
    """A background loop that ended for good (restarted MAX_RESTARTS times in a row), or
    this instance's name taken by another process (this one stalled past its lease), stops
    the process, which then exits non-zero: never a live process with a dead loop."""
    waits = [asyncio.create_task(loop.died.wait()) for loop in app.loops]
    if app.name_lost is not None:
        waits.append(asyncio.create_task(app.name_lost.wait()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    stop.set()


async def _run(settings: Settings, stop: asyncio.Event) -> int:
    async with build_app(settings) as app:
        watcher = asyncio.create_task(_watch_loops(app, stop), name="loop watch")
        try:
            code = await _serve(app, settings, stop)
        finally:
            watcher.cancel()
        if any(loop.died.is_set() for loop in app.loops):
            log.critical("a background loop could not be kept running; exiting with 1")
            code = 1
        elif app.name_lost is not None and app.name_lost.is_set():
            log.critical("another process took this instance's name; exiting with 1")
            code = 1
    log.info("stopped")
    return code


async def _serve(app: App, settings: Settings, stop: asyncio.Event) -> int:
    # /healthz first: it must answer while Telegram does not (resends go on meanwhile).
    runners = await _start_web(app) if settings.web_enabled else []
    try:
        me = await until_answered(app.bot.get_me, "getMe", stop)
        if me is None:
            log.info("stopped before Telegram answered")
            return 0
        log.info("logged in to Telegram as @%s (id %d)", me.username, me.id)
        await announce(app)
        # aiogram's ~200 000 start-up objects make one full garbage collection a ~200 ms
        # pause of the event loop (bench/, table 3). They live as long as the process:
        # move them out of the collector's sight.
        gc.collect()
        gc.freeze()
        if settings.webhook_url is not None:
            await _run_webhook(app, stop)
        else:
            await _run_polling(app, stop)
    finally:
        for runner in runners:
            await runner.cleanup()  # waits for webhook requests being kept
    log.info("stopping: no new updates; letting in-flight payments reach the journal")
    return 0


async def _start_web(app: App) -> list[web.AppRunner]:
    settings = app.settings
    runners: list[web.AppRunner] = []
    host, port = settings.web_host, settings.web_port
    try:
        runners.append(await start_web(app, host, port))
    except OSError as exc:
        message = f"cannot listen on {host}:{port} (WEB_HOST, WEB_PORT): {exc.strerror or exc}"
        if settings.webhook_url is not None:
            raise ConfigError(f"configuration error: {message}") from None
        # Polling still takes payments; only /healthz and /metrics (and the desk) are missing.
        log.error("%s; running without /healthz and /metrics", message)
        return runners
    if settings.health_address != (host, port):
        host, port = settings.metrics_host, settings.metrics_port
        try:
            runners.append(await start_status(app, host, port))
        except OSError as exc:
            # Updates still arrive; only /healthz and /metrics are missing.
            log.error(
                "cannot listen on %s:%d (METRICS_HOST, METRICS_PORT): %s; running without "
                "/healthz and /metrics",
                host,
                port,
                exc.strerror or exc,
            )
    return runners


async def _run_polling(app: App, stop: asyncio.Event) -> None:
    # One process polls a bot: Telegram answers a second getUpdates with 409 Conflict, and
    # the two would take each other's updates. Several instances run behind a webhook.
    poller = Singleton(app.db, "polling", app.sender.instance)
    holder = await poller.take()
    if holder is not None:
        raise ConfigError(
            f"configuration error: instance {holder} is already polling Telegram for this "
            "journal; run one instance in polling mode, or several behind a webhook "
            "(WEBHOOK_URL)"
        )
    lost = asyncio.Event()
    keeper = asyncio.create_task(poller.keep(lost))
    try:
        # getUpdates refuses to work while a webhook is set.
        if not await until_answered(app.bot.delete_webhook, "deleteWebhook", stop):
            return
        # Not aiogram's start_polling: it confirms a batch (the next offset) while its
        # handlers still run, so a kill loses them. Here a batch is kept first.
        polling = asyncio.create_task(app.intake.poll(), name="polling")
        stoppers = {asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())}
        await asyncio.wait({polling, *stoppers}, return_when=asyncio.FIRST_COMPLETED)
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        for stopper in stoppers:
            stopper.cancel()
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await poller.release()


async def _run_webhook(app: App, stop: asyncio.Event) -> None:
    settings = app.settings
    assert settings.webhook_url is not None
    assert settings.webhook_secret is not None
    webhook_url, secret = settings.webhook_url, settings.webhook_secret.get_secret_value()

    async def set_webhook() -> bool:
        return await app.bot.set_webhook(
            webhook_url,
            secret_token=secret,
            allowed_updates=app.dispatcher.resolve_used_update_types(),
            drop_pending_updates=False,
        )

    if not await until_answered(set_webhook, "setWebhook", stop):
        return
    log.info("webhook set; receiving updates at %s", settings.webhook_path)
    # The webhook stays registered on exit: Telegram keeps updates until we are back.
    await stop.wait()
