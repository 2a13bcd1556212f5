"""What a running bot is made of (:class:`App`), built by :func:`bot.wiring.app.build_app` and read
by the web server, the demo and the tests — apart from the wiring, so that neither the web
server nor anyone else imports the module that starts them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher
    from aiogram.utils.i18n import I18n
    from redis.asyncio import Redis

    from bot.allpay.client import AllpayClient
    from bot.config.settings import Settings
    from bot.devtools.sandbox import RunningSandbox
    from bot.infra.loops import BackgroundLoop
    from bot.store.db import Database
    from bot.telegram.runtime.intake import Intake
    from bot.telegram.runtime.outbox import OutboxWorker
    from bot.telegram.runtime.pacing import Pacer
    from bot.telegram.runtime.parts import Parts
    from bot.telegram.runtime.watch import TelegramReach
    from bot.usecases.approvals import ApprovalDesk
    from bot.usecases.balance import BalanceWatch
    from bot.usecases.cash import CashDesk
    from bot.usecases.cashin import CashIn
    from bot.usecases.dashboard import Dashboard
    from bot.usecases.digest import DigestScheduler
    from bot.usecases.housekeeping import Housekeeping
    from bot.usecases.people import People
    from bot.usecases.reports import Reports
    from bot.usecases.resolver import Resolver
    from bot.usecases.sending import Sender
    from bot.wiring.metrics import Metrics


@dataclass
class App:
    settings: Settings
    db: Database
    allpay: AllpayClient
    people: People
    cashin: CashIn
    desk: ApprovalDesk
    cash: CashDesk
    reports: Reports
    dashboard: Dashboard
    sender: Sender
    resolver: Resolver
    outbox: OutboxWorker
    digest: DigestScheduler | None
    housekeeping: Housekeeping
    #: The balance watch (BALANCE_ALERT_BELOW), or None.
    balance: BalanceWatch | None
    bot: Bot
    dispatcher: Dispatcher
    i18n: I18n
    sandbox: RunningSandbox | None
    metrics: Metrics
    telegram: TelegramReach
    pacer: Pacer
    intake: Intake
    #: Every background loop, started and watched: one that ends for good stops the process.
    loops: tuple[BackgroundLoop, ...]
    parts: Parts
    #: Set if another process took this instance's name (this one stalled past its lease).
    name_lost: asyncio.Event | None = None
    #: The shared conversations' Redis (``REDIS_URL``), for /healthz; None without one.
    redis: Redis | None = None
