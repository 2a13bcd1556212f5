"""Wiring, done once: settings → database → Allpay client (or the embedded sandbox) → use
cases, resolver and outbox → aiogram Dispatcher with dependencies passed in, not globals."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramNotFound, TelegramUnauthorizedError
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiohttp import web

from bot.allpay.client import AllpayClient
from bot.clients import allpay_client, make_bot
from bot.config import ConfigError, Settings
from bot.domain.model import Limits
from bot.logs import one_line
from bot.loops import BackgroundLoop, wait_event
from bot.metrics import Metrics, TelegramReach
from bot.outage import Part
from bot.redaction import register_secret
from bot.running import App
from bot.store.backends import open_database
from bot.store.db import Database
from bot.store.roster import Roster
from bot.telegram.routers import build_router
from bot.telegram.runtime.access import AccessMiddleware, RefusalBudget
from bot.telegram.runtime.context import LogContextMiddleware
from bot.telegram.runtime.i18n import LocaleMiddleware, make_i18n
from bot.telegram.runtime.intake import Intake
from bot.telegram.runtime.outbox import OutboxWorker
from bot.telegram.runtime.pacing import Budget, Pacer, RedisBudgetStore
from bot.telegram.runtime.parts import Parts, PartsMiddleware
from bot.telegram.runtime.rerun import RerunMiddleware, RerunSafeStorage
from bot.telegram.runtime.storage import SQLiteStorage
from bot.telegram.runtime.view import ViewMiddleware
from bot.telegram.runtime.watch import TelegramWatch
from bot.telegram.shared.answers import LateAnswers
from bot.telegram.shared.commands import sync_commands
from bot.usecases.approvals import ApprovalDesk, ApprovalSweeper
from bot.usecases.cash import CashDesk
from bot.usecases.cashin import CashIn
from bot.usecases.deliveries import Deliveries
from bot.usecases.digest import DigestScheduler
from bot.usecases.housekeeping import Housekeeping
from bot.usecases.inbox import Inbox
from bot.usecases.notices import Notices
from bot.usecases.people import People
from bot.usecases.reports import Reports
from bot.usecases.sending import Resolver, RetryPolicy, Sender
from bot.usecases.singleton import Identity, NameTaken, Singleton
from bot.web import start_status, start_web

# What a deployment does not use is not loaded (tests/test_imports.py): redis with
# REDIS_URL only (conversation_storage), the embedded sandbox only when it runs
# (allpay_client), psycopg with a postgresql:// DATABASE_URL only (open_database).
if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.devtools.sandbox import RunningSandbox

log = logging.getLogger(__name__)
T = TypeVar("T")

SHUTDOWN_GRACE = 5.0  # seconds for in-flight sends to reach the journal on SIGTERM


def conversation_storage(
    settings: Settings, db: Database
) -> tuple[BaseStorage, BaseEventIsolation, Redis | None]:
    """Where conversations live and how one person's updates are kept in order: in the
    journal and in this process (one instance), or in Redis for every instance
    (``REDIS_URL``: a conversation continues on whichever instance takes its next update).
    The third: the Redis client, where there is one."""
    if settings.redis_url is None:
        return SQLiteStorage(db), SimpleEventIsolation(), None
    from aiogram.fsm.storage.redis import RedisStorage

    from bot.telegram.runtime.isolation import RenewedRedisIsolation

    keys = DefaultKeyBuilder(prefix=settings.redis_prefix, with_bot_id=True, with_destiny=True)
    # Idle conversations go after PRUNE_AFTER_DAYS, as in the journal (0: kept).
    ttl = timedelta(days=settings.prune_after_days) if settings.prune_after_days else None
    storage = RedisStorage.from_url(
        settings.redis_url.get_secret_value(),
        # A Redis that stops answering fails a call in seconds (and /healthz), never hangs it.
        connection_kwargs={"socket_timeout": 5, "socket_connect_timeout": 5},
        key_builder=keys,
        state_ttl=ttl,
        data_ttl=ttl,
    )
    return storage, RenewedRedisIsolation(storage.redis, key_builder=keys), storage.redis


def warn_about_allpay(settings: Settings) -> None:
    """A start-up line an operator must not miss: an Allpay endpoint without TLS (its Faults
    are unsigned: anyone on the way can write one). The embedded sandbox says itself that no
    real money moves, and so does every card, status, receipt and /balance while it runs."""
    for name in settings.plain_http_allpay():
        log.warning(
            "%s is not https://: Allpay's answers are verified by signature, but its Faults "
            "are unsigned and could be forged on the way (shown as unverified text); ask "
            "Allpay for an https:// endpoint",
            name,
        )


@asynccontextmanager
async def build_app(
    settings: Settings, bot: Bot | None = None, *, budget: Budget | None = None
) -> AsyncIterator[App]:
    """Everything the bot needs, started; closed in reverse order on exit. ``budget``: the
    pacing of Bot API calls (Telegram's limits, a little stricter, by default); a test
    against a stand-in without limits may loosen it."""
    for secret in settings.secret_values():
        register_secret(secret)
    i18n = make_i18n(settings.default_language)
    metrics = Metrics()
    reach = TelegramReach()
    bot = bot or make_bot(settings)
    # Every Bot API call, whoever makes it, is paced; the watch inside sees each attempt.
    pacer = Pacer(budget, observer=metrics)
    metrics.watch_queue(pacer.queue_depth)
    bot.session.middleware(LateAnswers())  # a rerun's second answer to a press is no error
    bot.session.middleware(pacer)
    bot.session.middleware(TelegramWatch(metrics, reach))
    warn_about_allpay(settings)
    from bot.preflight import warn_about_admins

    warn_about_admins(settings)
    db = open_database(settings.database_url)
    await db.open()
    sandbox: RunningSandbox | None = None
    allpay: AllpayClient | None = None
    try:
        allpay, sandbox = await allpay_client(settings, metrics)
        identity = Identity(db, settings.instance_name or socket.gethostname())
        notices = Notices(settings.supervisor_chat_ids)
        sender = Sender(
            db,
            allpay,
            RetryPolicy(
                settings.pending_retry_min,
                settings.pending_retry_max,
                settings.pending_alert_after,
                settings.pending_give_up_after,
            ),
            notices,
            requester=allpay.requester,
            fee=settings.cashin_fee,
            instance=identity.owner,
            # Longer than any one send (one request of at most ALLPAY_TIMEOUT, then its record).
            lease=2 * settings.allpay_timeout + 5,
        )
        limits = Limits(
            cashier_daily_sum=settings.cashier_daily_limit,
            cashier_daily_count=settings.cashier_daily_count,
            client_daily_sum=settings.client_daily_limit,
            approval_threshold=settings.approval_threshold,
            approval_timeout=settings.approval_timeout,
        )
        desk = ApprovalDesk(
            db, sender, notices, timeout=settings.approval_timeout, limits=limits, tz=settings.tz
        )
        cash = CashDesk(db, notices, settings.tz)
        shared = settings.redis_url is not None  # several instances may share the journal
        people = People(
            db, Roster(cache=not shared), desk, cash, configured_admins=settings.admin_ids
        )
        await people.seed(settings.admin_ids, settings.supervisor_ids, settings.cashier_ids)
        await desk.fill_fees()
        cashin = CashIn(
            db,
            allpay,
            sender,
            desk,
            limits,
            tz=settings.tz,
            smallest=settings.amount_min,
        )
        reports = Reports(db, settings.tz, allpay, settings.parties, sandbox=settings.uses_sandbox)
        deliveries = Deliveries(db, settings.tz, instance=sender.instance)
        outbox = OutboxWorker(
            bot, deliveries, people, desk, cash, i18n, settings.tz, sandbox=settings.uses_sandbox
        )
        notices.wake = outbox.wakeup.set
        sweeper = ApprovalSweeper(desk)
        resolver = Resolver(sender, concurrency=settings.allpay_concurrency)
        housekeeping = Housekeeping(
            db,
            settings.tz,
            prune_after=(
                timedelta(days=settings.prune_after_days) if settings.prune_after_days else None
            ),
            backup_dir=settings.backup_dir,
            backup_keep=settings.backup_keep,
            instance=sender.instance,
        )
        digest = (
            DigestScheduler(db, notices, settings.digest_time, settings.tz)
            if settings.digest_time is not None and settings.supervisor_chat_ids
            else None
        )
        storage, isolation, redis = conversation_storage(settings, db)
        if redis is not None:  # Telegram's limits are the bot's: shared
            pacer.store = RedisBudgetStore(redis, f"{settings.redis_prefix}:{bot.id}")
        # A rerun of an update (after a crash) meets the conversation as the first did.
        conversations = RerunSafeStorage(storage)
        parts = Parts(
            journal=db.part, redis=Part("redis") if settings.redis_url is not None else None
        )
        dispatcher = Dispatcher(
            storage=conversations,
            events_isolation=isolation,
            parts=parts,
            cashin=cashin,
            people=people,
            desk=desk,
            cash=cash,
            reports=reports,
            sender=sender,
        )
        dispatcher.update.outer_middleware(LogContextMiddleware())
        dispatcher.update.outer_middleware(PartsMiddleware(parts))
        dispatcher.update.outer_middleware(RerunMiddleware(conversations))
        LocaleMiddleware(i18n, people).setup(dispatcher)
        ViewMiddleware(settings).setup(dispatcher)  # the settings handlers' words need
        access = AccessMiddleware(people, RefusalBudget())
        dispatcher.message.outer_middleware(access)
        dispatcher.callback_query.outer_middleware(access)
        dispatcher.include_router(build_router())
        inbox = Inbox(
            db,
            owner=sender.instance,
            # Longer than a handler runs (a client check waits ALLPAY_TIMEOUT at most).
            claim=timedelta(seconds=max(60.0, 2 * settings.allpay_timeout + 30)),
        )
        intake = Intake(inbox, dispatcher, bot, i18n)
        loops: tuple[BackgroundLoop, ...] = tuple(
            loop
            for loop in (resolver, outbox, sweeper, digest, housekeeping, intake)
            if loop is not None
        )
        app = App(
            settings=settings,
            db=db,
            allpay=allpay,
            people=people,
            cashin=cashin,
            desk=desk,
            cash=cash,
            reports=reports,
            sender=sender,
            resolver=resolver,
            outbox=outbox,
            digest=digest,
            housekeeping=housekeeping,
            bot=bot,
            dispatcher=dispatcher,
            i18n=i18n,
            sandbox=sandbox,
            metrics=metrics,
            telegram=reach,
            pacer=pacer,
            intake=intake,
            loops=loops,
            parts=parts,
            redis=redis,
        )
        # This process's name among the instances; what its earlier lives held (a crash) is
        # taken back, so their unfinished sends resume now, not when their leases run out.
        try:
            others = await identity.claim()
        except NameTaken as taken:
            raise ConfigError(
                f"configuration error: another process ({taken.holder}) runs as instance "
                f"{identity.name} on this journal; give each process its own INSTANCE_NAME"
            ) from None
        if others and settings.redis_url is None and settings.webhook_url is not None:
            await identity.lease.release()
            raise ConfigError(
                f"configuration error: {len(others)} other instance(s) run on this journal "
                "(" + ", ".join(sorted(others)) + "); several instances need REDIS_URL, "
                "where their conversations are shared"
            )
        name_lost = app.name_lost = asyncio.Event()
        name_keeper = asyncio.create_task(identity.lease.keep(name_lost))
        for loop in loops:
            loop.start()
        try:
            yield app
        finally:
            # Handlers first (they journal and send), then the loops behind them.
            await intake.drain(SHUTDOWN_GRACE)
            await housekeeping.stop()
            await sweeper.stop()
            if digest is not None:
                await digest.stop()
            await resolver.stop()
            await sender.drain(SHUTDOWN_GRACE)
            await outbox.stop()
            with contextlib.suppress(Exception):  # claims run out anyway
                await deliveries.release_claims()
            name_keeper.cancel()
            await identity.lease.release()
            if isinstance(storage, SQLiteStorage):
                await storage.flush()
            await storage.close()
            await isolation.close()
    finally:
        if allpay is not None:
            await allpay.close()
        if sandbox is not None:
            await sandbox.close()
        await bot.session.close()
        await db.close()


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


async def announce(app: App) -> None:
    """Every person's command menu. A failure is logged: menus are a comfort, not a duty."""
    try:
        await sync_commands(
            app.bot, app.i18n, await app.people.listing(), app.settings.supervisor_chat_ids
        )
    except Exception as exc:
        log.warning("could not set the command menus: %s", one_line(exc))


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
        # Polling still takes payments; only /healthz and /metrics are missing.
        log.error("%s; running without /healthz and /metrics", message)
        return runners
    if settings.webhook_url is not None:
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
