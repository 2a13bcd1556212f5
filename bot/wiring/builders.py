"""The use cases and the background loops, built from the settings (not started): what
:func:`bot.wiring.app.build_app` puts together with the Bot API and the Dispatcher."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.utils.i18n import I18n

from bot.allpay.client import AllpayClient
from bot.config.settings import Settings
from bot.domain.limits import Limits
from bot.domain.model import RetryPolicy
from bot.store.db import Database
from bot.store.roster import Roster
from bot.telegram.runtime.outbox import OutboxWorker
from bot.usecases.approvals import ApprovalDesk, ApprovalSweeper
from bot.usecases.balance import BalanceWatch
from bot.usecases.cash import CashDesk
from bot.usecases.cashin import CashIn
from bot.usecases.dashboard import Dashboard
from bot.usecases.deliveries import Deliveries
from bot.usecases.digest import DigestScheduler
from bot.usecases.housekeeping import Housekeeping
from bot.usecases.notices import Notices
from bot.usecases.people import People
from bot.usecases.reports import Reports
from bot.usecases.resolver import Resolver
from bot.usecases.sending import Sender


@dataclass
class UseCases:
    """The use cases handlers are given through the Dispatcher, and what they share."""

    notices: Notices
    sender: Sender
    desk: ApprovalDesk
    cash: CashDesk
    people: People
    cashin: CashIn
    reports: Reports
    #: The supervisor's desk's figures (read by its API when WEBAPP_URL is set).
    dashboard: Dashboard


@dataclass
class Loops:
    """What works in the background, built but not started."""

    deliveries: Deliveries
    outbox: OutboxWorker
    sweeper: ApprovalSweeper
    resolver: Resolver
    housekeeping: Housekeeping
    digest: DigestScheduler | None
    #: With BALANCE_ALERT_BELOW: the agent's balance, watched.
    balance: BalanceWatch | None = None


async def build_use_cases(
    settings: Settings,
    db: Database,
    allpay: AllpayClient,
    owner: str,
    clock: Callable[[], datetime],
) -> UseCases:
    """The use cases, with the configured people seeded and the waiting requests' fees
    filled in. ``owner``: this process's name among the instances (its send leases')."""
    notices = Notices(settings.supervisor_chat_ids, settings.webapp_url)
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
        instance=owner,
        # Longer than any one send (one request of at most ALLPAY_TIMEOUT, then its record).
        lease=2 * settings.allpay_timeout + 5,
        clock=clock,
    )
    limits = Limits(
        cashier_daily_sum=settings.cashier_daily_limit,
        cashier_daily_count=settings.cashier_daily_count,
        client_daily_sum=settings.client_daily_limit,
        approval_threshold=settings.approval_threshold,
        approval_timeout=settings.approval_timeout,
    )
    desk = ApprovalDesk(
        db,
        sender,
        notices,
        timeout=settings.approval_timeout,
        limits=limits,
        tz=settings.tz,
        clock=clock,
    )
    cash = CashDesk(db, notices, settings.tz, clock=clock)
    shared = settings.redis_url is not None  # several instances may share the journal
    people = People(
        db,
        Roster(cache=not shared),
        desk,
        cash,
        configured_admins=settings.admin_ids,
        clock=clock,
    )
    await people.seed(settings.admin_ids, settings.supervisor_ids, settings.cashier_ids)
    await people.menu_buttons()  # with the desk: queued for the outbox, sent once it starts
    await desk.fill_fees()
    cashin = CashIn(
        db,
        allpay,
        sender,
        desk,
        limits,
        tz=settings.tz,
        smallest=settings.amount_min,
        clock=clock,
    )
    reports = Reports(db, settings.tz, allpay, settings.parties, sandbox=settings.uses_sandbox)
    dashboard = Dashboard(db, settings.tz, reports, clock=clock)
    return UseCases(notices, sender, desk, cash, people, cashin, reports, dashboard)


def build_loops(
    settings: Settings,
    db: Database,
    bot: Bot,
    i18n: I18n,
    cases: UseCases,
    clock: Callable[[], datetime],
) -> Loops:
    """The background loops: the outbox (which the notices wake), approvals' expiry, resends,
    the day's housekeeping, with DIGEST_TIME and supervisor chats the daily digest, and
    with BALANCE_ALERT_BELOW the balance watch."""
    deliveries = Deliveries(db, settings.tz, instance=cases.sender.instance, clock=clock)
    outbox = OutboxWorker(
        bot,
        deliveries,
        cases.people,
        cases.desk,
        cases.cash,
        i18n,
        settings.tz,
        sandbox=settings.uses_sandbox,
        desk_url=settings.webapp_url,
        dashboard=cases.dashboard,
        clock=clock,
    )
    cases.notices.wake = outbox.wakeup.set
    housekeeping = Housekeeping(
        db,
        settings.tz,
        prune_after=(
            timedelta(days=settings.prune_after_days) if settings.prune_after_days else None
        ),
        backup_dir=settings.backup_dir,
        backup_keep=settings.backup_keep,
        instance=cases.sender.instance,
        clock=clock,
    )
    digest = (
        DigestScheduler(db, cases.notices, settings.digest_time, settings.tz, clock=clock)
        if settings.digest_time is not None and settings.supervisor_chat_ids
        else None
    )
    balance = None
    if settings.balance_alert_below is not None:
        balance = BalanceWatch(
            db,
            cases.reports.allpay,
            cases.notices,
            settings.tz,
            threshold=settings.balance_alert_below,
            every=settings.balance_check_every,
            agent=cases.sender.requester,
            instance=cases.sender.instance,
            lang=settings.default_language,
            clock=clock,
        )
    return Loops(
        deliveries=deliveries,
        outbox=outbox,
        sweeper=ApprovalSweeper(cases.desk, clock=clock),
        resolver=Resolver(cases.sender, concurrency=settings.allpay_concurrency, clock=clock),
        housekeeping=housekeeping,
        digest=digest,
        balance=balance,
    )
