"""Wiring, done once: settings → database → Allpay client (or the embedded sandbox) → use
cases, resolver and outbox → aiogram Dispatcher with dependencies passed in, not globals.
Running what is built until it is told to stop is :mod:`bot.wiring.serving`'s."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.utils.i18n import I18n

from bot.config.settings import ConfigError, Settings
from bot.domain.clock import utcnow
from bot.infra.logs import one_line
from bot.infra.outage import Part
from bot.infra.redaction import register_secret
from bot.store.backends import open_database
from bot.telegram.routers import build_router
from bot.telegram.runtime.access import AccessMiddleware, RefusalBudget
from bot.telegram.runtime.context import LogContextMiddleware
from bot.telegram.runtime.i18n import LocaleMiddleware, make_i18n
from bot.telegram.runtime.intake import Intake
from bot.telegram.runtime.pacing import Budget, Pacer, RedisBudgetStore
from bot.telegram.runtime.parts import Parts, PartsMiddleware
from bot.telegram.runtime.rerun import RerunMiddleware, RerunSafeStorage
from bot.telegram.runtime.storage import SQLiteStorage
from bot.telegram.runtime.view import ViewMiddleware
from bot.telegram.runtime.watch import TelegramReach, TelegramWatch
from bot.telegram.shared.answers import LateAnswers
from bot.telegram.shared.commands import sync_commands
from bot.usecases.deliveries import Deliveries
from bot.usecases.inbox import Inbox
from bot.usecases.sending import Sender
from bot.usecases.singleton import Identity, NameTaken
from bot.wiring.builders import Loops, UseCases, build_loops, build_use_cases
from bot.wiring.clients import allpay_client, conversation_storage, make_bot
from bot.wiring.metrics import Metrics
from bot.wiring.running import App

# What a deployment does not use is not loaded (tests/test_imports.py): redis with
# REDIS_URL only (conversation_storage), the embedded sandbox only when it runs
# (allpay_client), psycopg with a postgresql:// DATABASE_URL only (open_database).
log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 5.0  # seconds for in-flight sends to reach the journal on SIGTERM


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
    settings: Settings,
    bot: Bot | None = None,
    *,
    budget: Budget | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> AsyncIterator[App]:
    """Everything the bot needs, started; closed in reverse order on exit. ``budget``: the
    pacing of Bot API calls (Telegram's limits, a little stricter, by default); a test
    against a stand-in without limits may loosen it. ``clock``: the time the journal's
    records, days, limits and loops go by (timezone-aware UTC; a test may set another).

    Each part is entered on ``stack`` as it is made or started, so whatever was built is
    closed, and in the reverse order, whether start-up fails half-way or the bot stops."""
    for secret in settings.secret_values():
        register_secret(secret)
    i18n = make_i18n(settings.default_language)
    metrics = Metrics()
    reach = TelegramReach()
    warn_about_allpay(settings)
    from bot.wiring.preflight import warn_about_admins

    warn_about_admins(settings)
    async with contextlib.AsyncExitStack() as stack:
        db = open_database(settings.database_url)
        await db.open()
        stack.push_async_callback(db.close)
        bot, pacer = _paced_bot(settings, bot, budget, metrics, reach)
        stack.push_async_callback(bot.session.close)
        allpay, sandbox = await allpay_client(settings, metrics)
        if sandbox is not None:
            stack.push_async_callback(sandbox.close)
        stack.push_async_callback(allpay.close)
        identity = Identity(db, settings.instance_name or socket.gethostname(), clock=clock)
        cases = await build_use_cases(settings, db, allpay, identity.owner, clock)
        loops = build_loops(settings, db, bot, i18n, cases, clock)
        storage, isolation, redis = conversation_storage(settings, db)
        stack.push_async_callback(isolation.close)
        stack.push_async_callback(_close_storage, storage)
        if redis is not None:  # Telegram's limits are the bot's: shared
            pacer.store = RedisBudgetStore(redis, f"{settings.redis_prefix}:{bot.id}")
        # A rerun of an update (after a crash) meets the conversation as the first did.
        conversations = RerunSafeStorage(storage)
        parts = Parts(
            journal=db.part, redis=Part("redis") if settings.redis_url is not None else None
        )
        dispatcher = _dispatcher(settings, i18n, cases, conversations, isolation, parts)
        inbox = Inbox(
            db,
            owner=cases.sender.instance,
            # Longer than a handler runs (a client check waits ALLPAY_TIMEOUT at most).
            claim=timedelta(seconds=max(60.0, 2 * settings.allpay_timeout + 30)),
            clock=clock,
        )
        intake = Intake(inbox, dispatcher, bot, i18n, clock=clock)
        app = App(
            settings=settings,
            db=db,
            allpay=allpay,
            people=cases.people,
            cashin=cases.cashin,
            desk=cases.desk,
            cash=cases.cash,
            reports=cases.reports,
            dashboard=cases.dashboard,
            sender=cases.sender,
            resolver=loops.resolver,
            outbox=loops.outbox,
            digest=loops.digest,
            housekeeping=loops.housekeeping,
            balance=loops.balance,
            bot=bot,
            dispatcher=dispatcher,
            i18n=i18n,
            sandbox=sandbox,
            metrics=metrics,
            telegram=reach,
            pacer=pacer,
            intake=intake,
            loops=tuple(
                loop
                for loop in (
                    loops.resolver,
                    loops.outbox,
                    loops.sweeper,
                    loops.digest,
                    loops.housekeeping,
                    loops.balance,
                    intake,
                )
                if loop is not None
            ),
            parts=parts,
            redis=redis,
        )
        app.name_lost = await _take_name(stack, identity, settings)
        _start(stack, loops, cases.sender, intake)
        yield app


def _paced_bot(
    settings: Settings,
    bot: Bot | None,
    budget: Budget | None,
    metrics: Metrics,
    reach: TelegramReach,
) -> tuple[Bot, Pacer]:
    """The bot (``make_bot``'s unless one is given), every Bot API call of which, whoever
    makes it, is paced; the watch inside sees each attempt."""
    bot = bot or make_bot(settings)
    pacer = Pacer(budget, observer=metrics)
    metrics.watch_queue(pacer.queue_depth)
    bot.session.middleware(LateAnswers())  # a rerun's second answer to a press is no error
    bot.session.middleware(pacer)
    bot.session.middleware(TelegramWatch(metrics.telegram_retry_after.inc, reach))
    return bot, pacer


def _dispatcher(
    settings: Settings,
    i18n: I18n,
    cases: UseCases,
    storage: RerunSafeStorage,
    isolation: BaseEventIsolation,
    parts: Parts,
) -> Dispatcher:
    """aiogram's Dispatcher with the use cases passed in, its middlewares and the routers."""
    dispatcher = Dispatcher(
        storage=storage,
        events_isolation=isolation,
        parts=parts,
        cashin=cases.cashin,
        people=cases.people,
        desk=cases.desk,
        cash=cases.cash,
        reports=cases.reports,
        sender=cases.sender,
        dashboard=cases.dashboard,  # /report's chart where no desk is served
    )
    dispatcher.update.outer_middleware(LogContextMiddleware())
    dispatcher.update.outer_middleware(PartsMiddleware(parts))
    dispatcher.update.outer_middleware(RerunMiddleware(storage))
    LocaleMiddleware(i18n, cases.people).setup(dispatcher)
    ViewMiddleware(settings).setup(dispatcher)  # the settings handlers' words need
    access = AccessMiddleware(cases.people, RefusalBudget())
    dispatcher.message.outer_middleware(access)
    dispatcher.callback_query.outer_middleware(access)
    dispatcher.include_router(build_router())
    return dispatcher


async def _take_name(
    stack: contextlib.AsyncExitStack, identity: Identity, settings: Settings
) -> asyncio.Event:
    """This process's name among the instances; what its earlier lives held (a crash) is
    taken back, so their unfinished sends resume now, not when their leases run out. The
    event is set if another process takes the name (this one stalled past its lease)."""
    try:
        others = await identity.claim()
    except NameTaken as taken:
        raise ConfigError(
            f"configuration error: another process ({taken.holder}) runs as instance "
            f"{identity.name} on this journal; give each process its own INSTANCE_NAME"
        ) from None
    stack.push_async_callback(identity.lease.release)
    if others and settings.redis_url is None and settings.webhook_url is not None:
        raise ConfigError(
            f"configuration error: {len(others)} other instance(s) run on this journal "
            "(" + ", ".join(sorted(others)) + "); several instances need REDIS_URL, "
            "where their conversations are shared"
        )
    name_lost = asyncio.Event()
    name_keeper = asyncio.create_task(identity.lease.keep(name_lost))
    stack.callback(name_keeper.cancel)
    return name_lost


def _start(stack: contextlib.AsyncExitStack, loops: Loops, sender: Sender, intake: Intake) -> None:
    """Start the loops, so that they stop in the reverse order: handlers first (they journal
    and send), then the loops behind them; in-flight sends reach the journal before the
    outbox stops, and the outbox's chat claims are let go last."""
    stack.push_async_callback(_release_claims, loops.deliveries)
    loops.outbox.start()
    stack.push_async_callback(loops.outbox.stop)
    stack.push_async_callback(sender.drain, SHUTDOWN_GRACE)
    for loop in (
        loops.resolver,
        loops.digest,
        loops.sweeper,
        loops.housekeeping,
        loops.balance,
    ):
        if loop is not None:
            loop.start()
            stack.push_async_callback(loop.stop)
    intake.start()
    stack.push_async_callback(intake.drain, SHUTDOWN_GRACE)


async def _release_claims(deliveries: Deliveries) -> None:
    with contextlib.suppress(Exception):  # claims run out anyway
        await deliveries.release_claims()


async def _close_storage(storage: BaseStorage) -> None:
    if isinstance(storage, SQLiteStorage):
        await storage.flush()  # the conversations' last steps, written behind
    await storage.close()


async def announce(app: App) -> None:
    """Every person's command menu. A failure is logged: menus are a comfort, not a duty."""
    try:
        await sync_commands(
            app.bot, app.i18n, await app.people.listing(), app.settings.supervisor_chat_ids
        )
    except Exception as exc:
        log.warning("could not set the command menus: %s", one_line(exc))
