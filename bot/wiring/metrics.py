"""Prometheus metrics of one bot: payments, Allpay calls, Telegram's rate limits, and whether
its parts answer (what ``deploy/prometheus/alerts.yml`` alerts on).

One registry per bot (not the global one), so several bots can run in one process (tests).
Journal-derived gauges are refreshed when scraped, at most every few seconds and never for
long: a journal that does not answer within ``JOURNAL_WAIT`` leaves the last figures in place
and says so (``cashin_journal_up 0``), so ``/metrics`` answers while the journal is down.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.domain.balance import BalanceState
from bot.domain.clock import utcnow
from bot.domain.model import Status
from bot.infra.loops import BackgroundLoop
from bot.infra.redaction import redact_error
from bot.telegram.runtime.pacing import Lane
from bot.telegram.runtime.watch import TelegramReach
from bot.usecases.reports import Reports
from bot.wiring.balance_gauges import BalanceGauges

log = logging.getLogger(__name__)
T = TypeVar("T")

ALLPAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
PACING_BUCKETS = (0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300)
#: The longest a scrape waits for one of its questions (the journal's figures, a write probe,
#: a Redis ping); they are asked together, so a scrape takes at most about this long.
JOURNAL_WAIT = 2.0
#: An answer is reused this long: several scrapers (or a fast one) cost the journal one read.
JOURNAL_FRESH = 5.0

Health = tuple[dict[Status, int], datetime | None]


class Probe(Generic[T]):
    """One question at a time, its answer kept ``fresh`` seconds, a caller waiting at most
    ``wait`` for it.

    A question still running after ``wait`` goes on in the background (a database call on its
    own thread cannot be taken back) and no second one is asked meanwhile: a journal that
    hangs costs one waiting read, not one per scrape, and later scrapes answer at once.
    """

    def __init__(
        self,
        *,
        wait: float = JOURNAL_WAIT,
        fresh: float = JOURNAL_FRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wait = wait
        self.fresh = fresh
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._answered_at = -math.inf
        self.ok = False  # the last question was answered, in time or late
        self.value: T | None = None  # the last good answer, kept through failures
        self.error: str | None = None  # why the last question failed (redacted, one line)
        self.answered: datetime | None = None  # when ``value`` came

    async def ask(self, question: Callable[[], Awaitable[T]]) -> bool:
        """Ask ``question`` unless a recent answer stands; True if the journal (or whatever
        is asked) answered. ``value`` is then the answer, else the last good one (or None)."""
        now = self._clock()
        if self._task is None and now - self._answered_at >= self.fresh:
            self._started = now
            self._task = asyncio.create_task(self._run(question), name="metrics-probe")
        task = self._task
        if task is not None:
            remaining = self._started + self.wait - now
            if remaining > 0:
                # asyncio.wait: a scrape that goes away (cancelled) leaves the question be.
                await asyncio.wait({task}, timeout=remaining)
            if not task.done():
                self.error = f"no answer within {self.wait:g} s"
                return False
        return self.ok

    async def _run(self, question: Callable[[], Awaitable[T]]) -> None:
        try:
            value = await question()
        except Exception as exc:  # whatever the part raises: reported, never raised here
            self.ok = False
            self.error = redact_error(f"{type(exc).__name__}: {exc}")
        else:
            self.ok, self.value, self.error, self.answered = True, value, None, utcnow()
        finally:
            self._answered_at = self._clock()
            self._task = None


@dataclass
class Vitals:
    """What ``/metrics`` asks of the running process beside the journal's figures."""

    #: Can the journal take a write now (``Database.writable``)?
    writable: Callable[[], Awaitable[bool]]
    telegram: TelegramReach
    #: The background loops by name (``resolver``, ``outbox``).
    loops: Mapping[str, BackgroundLoop] = field(default_factory=dict)
    #: Does Redis answer a ping? None: no Redis in this deployment (no gauge then).
    redis: Callable[[], Awaitable[bool]] | None = None
    #: ``PENDING_ALERT_AFTER``: exported so the alert's horizon is the bot's own.
    pending_alert_after: float | None = None
    #: When Allpay last gave a trustworthy answer.
    allpay_last_success: datetime | None = None
    #: The balance watch's state in the journal, and its mark (BALANCE_ALERT_BELOW); None:
    #: not watched (no balance gauges then).
    balance: Callable[[], Awaitable[BalanceState | None]] | None = None
    balance_alert_below: Decimal | None = None


def _timestamp(moment: datetime | None) -> float:
    """Seconds since the epoch; 0 for "never" (Prometheus' convention)."""
    return moment.timestamp() if moment is not None else 0.0


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.payments = Gauge(
            "cashin_payments",
            "Payments in the journal by status",
            ["status"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "cashin_pending_payments",
            "Payments without Allpay's final answer (NEW or PENDING)",
            registry=self.registry,
        )
        self.oldest_pending = Gauge(
            "cashin_pending_oldest_age_seconds",
            "Age of the oldest payment without Allpay's final answer (0: none)",
            registry=self.registry,
        )
        self.allpay_seconds = Histogram(
            "allpay_call_duration_seconds",
            "Time of one Allpay call, answered or not",
            ["operation"],
            buckets=ALLPAY_BUCKETS,
            registry=self.registry,
        )
        self.allpay_errors = Counter(
            "allpay_call_errors",
            "Allpay calls without a trustworthy answer, by kind",
            ["operation", "kind"],
            registry=self.registry,
        )
        self.telegram_retry_after = Counter(
            "telegram_retry_after",
            "Telegram answers 429 Too Many Requests (retry_after)",
            registry=self.registry,
        )
        self.pacing_wait = Histogram(
            "telegram_pacing_wait_seconds",
            "Time a Bot API call waited for its budget, by lane",
            ["lane"],
            buckets=PACING_BUCKETS,
            registry=self.registry,
        )
        self.pacing_queue = Gauge(
            "telegram_pacing_queue",
            "Bot API calls waiting for their budget now, by lane",
            ["lane"],
            registry=self.registry,
        )
        self.pacing_refused = Counter(
            "telegram_pacing_refused",
            "429s received, by lane of the refused call",
            ["lane"],
            registry=self.registry,
        )
        self.journal_up = Gauge(
            "cashin_journal_up",
            "1: the journal answered the last read of these figures; 0: it did not (in "
            f"{JOURNAL_WAIT:g} s), and the journal's figures here are the last known",
            registry=self.registry,
        )
        self.journal_read = Gauge(
            "cashin_journal_last_read_timestamp_seconds",
            "When the journal's figures served here were read (0: never)",
            registry=self.registry,
        )
        # The parts' gauges: exported once a scrape asks about them (Vitals), Redis's only
        # with a Redis — an absent gauge never fires an alert its deployment cannot have.
        self.journal_writable = Gauge(
            "cashin_journal_writable",
            f"1: the journal took a write probe within {JOURNAL_WAIT:g} s; 0: it did not",
            registry=None,
        )
        self.redis_up = Gauge(
            "cashin_redis_up",
            "1: Redis (REDIS_URL) answers a ping; 0: it does not (absent without REDIS_URL)",
            registry=None,
        )
        self.telegram_up = Gauge(
            "cashin_telegram_up",
            "1: Telegram answered the last Bot API call (if only to refuse); 0: it did not, "
            "or none was made yet",
            registry=None,
        )
        self.telegram_last_success = Gauge(
            "cashin_telegram_last_success_timestamp_seconds",
            "When Telegram last answered a Bot API call (0: never)",
            registry=None,
        )
        self.allpay_last_success = Gauge(
            "cashin_allpay_last_success_timestamp_seconds",
            "When Allpay last gave a trustworthy answer (0: never, since start)",
            registry=None,
        )
        self.loop_alive = Gauge(
            "cashin_loop_alive",
            "1: the background loop runs; 0: it ended",
            ["loop"],
            registry=None,
        )
        self.resolver_last_pass = Gauge(
            "cashin_resolver_last_pass_timestamp_seconds",
            "When the resolver (resends of payments without a final answer) last made a pass "
            "(0: never)",
            registry=None,
        )
        self.pending_alert_after = Gauge(
            "cashin_pending_alert_after_seconds",
            "PENDING_ALERT_AFTER: a payment without a final answer this long is stuck",
            registry=None,
        )
        # The balance watch's (BALANCE_ALERT_BELOW), read from the journal.
        self.balance = BalanceGauges()
        self.balance_probe: Probe[BalanceState | None] = Probe()
        self._queue_depth: Callable[[], Mapping[Lane, int]] = dict
        # The questions a scrape asks, each answered at most every JOURNAL_FRESH seconds.
        self.journal_probe: Probe[Health] = Probe()
        self.writable_probe: Probe[bool] = Probe()
        self.redis_probe: Probe[bool] = Probe()
        self._journal_was_up = True
        self._redis_gauge_pending = True
        self._parts: list[Gauge] = [
            self.journal_writable,
            self.telegram_up,
            self.telegram_last_success,
            self.allpay_last_success,
            self.loop_alive,
            self.resolver_last_pass,
            self.pending_alert_after,
        ]

    def watch_queue(self, depth: Callable[[], Mapping[Lane, int]]) -> None:
        """Where the pacing queue's depth is read from when scraped."""
        self._queue_depth = depth

    def waited(self, lane: Lane, seconds: float) -> None:
        """The pacer's observer: a call got its budget after ``seconds``."""
        self.pacing_wait.labels(lane.label).observe(seconds)

    def refused(self, lane: Lane) -> None:
        self.pacing_refused.labels(lane.label).inc()

    def observe_allpay(self, operation: str, seconds: float, error: str | None) -> None:
        """The AllpayClient's observer."""
        self.allpay_seconds.labels(operation).observe(seconds)
        if error is not None:
            self.allpay_errors.labels(operation, error).inc()

    async def refresh(
        self, reports: Reports, vitals: Vitals | None = None, now: datetime | None = None
    ) -> None:
        """Bring every gauge up to date; takes at most about ``JOURNAL_WAIT`` seconds and
        raises nothing a part that does not answer could raise."""
        journal = self.journal_probe.ask(reports.health)
        if vitals is None:
            journal_up = await journal
        else:
            journal_up = await self._vitals(journal, vitals)
        self.journal_up.set(1 if journal_up else 0)
        if journal_up != self._journal_was_up:
            self._journal_was_up = journal_up
            if journal_up:
                log.info("metrics: the journal answers again")
            else:
                log.warning(
                    "metrics: the journal does not answer (%s); serving its last figures",
                    self.journal_probe.error,
                )
        if self.journal_probe.value is not None:
            counts, oldest = self.journal_probe.value
            for status in Status:
                self.payments.labels(status.value).set(counts.get(status, 0))
            self.pending.set(counts.get(Status.NEW, 0) + counts.get(Status.PENDING, 0))
            # The oldest open payment keeps ageing while the journal is away.
            age = ((now or utcnow()) - oldest).total_seconds() if oldest else 0.0
            self.oldest_pending.set(max(0.0, age))
        self.journal_read.set(_timestamp(self.journal_probe.answered))
        depth = self._queue_depth()
        for lane in Lane:
            self.pacing_queue.labels(lane.label).set(depth.get(lane, 0))

    async def _vitals(self, journal: Awaitable[bool], vitals: Vitals) -> bool:
        """The journal's figures and the parts' probes, asked together."""
        for gauge in self._parts:
            self.registry.register(gauge)
        self._parts.clear()
        if vitals.redis is not None and self._redis_gauge_pending:
            self.registry.register(self.redis_up)
            self._redis_gauge_pending = False
        writable = self.writable_probe.ask(vitals.writable)
        # Asked beside the others: a scrape still waits at most about JOURNAL_WAIT.
        balance = (
            asyncio.ensure_future(self._balance(vitals.balance, vitals.balance_alert_below))
            if vitals.balance is not None and vitals.balance_alert_below is not None
            else None
        )
        if vitals.redis is not None:
            journal_up, writes, redis_up = await asyncio.gather(
                journal, writable, self.redis_probe.ask(vitals.redis)
            )
            self.redis_up.set(1 if redis_up and self.redis_probe.value else 0)
        else:
            journal_up, writes = await asyncio.gather(journal, writable)
        if balance is not None:
            await balance
        self.journal_writable.set(1 if writes and self.writable_probe.value else 0)
        self.telegram_up.set(1 if vitals.telegram.reachable else 0)
        self.telegram_last_success.set(_timestamp(vitals.telegram.last_success))
        self.allpay_last_success.set(_timestamp(vitals.allpay_last_success))
        for name, loop in vitals.loops.items():
            self.loop_alive.labels(name).set(1 if loop.alive else 0)
        resolver = vitals.loops.get("resolver")
        if resolver is not None:
            self.resolver_last_pass.set(_timestamp(last_pass(resolver)))
        if vitals.pending_alert_after is not None:
            self.pending_alert_after.set(vitals.pending_alert_after)
        return journal_up

    async def _balance(
        self, state: Callable[[], Awaitable[BalanceState | None]], mark: Decimal
    ) -> None:
        await self.balance_probe.ask(state)
        self.balance.show(self.registry, self.balance_probe.value, mark)

    async def render(self, reports: Reports, vitals: Vitals | None = None) -> bytes:
        await self.refresh(reports, vitals)
        return generate_latest(self.registry)


def last_pass(loop: BackgroundLoop) -> datetime | None:
    """When ``loop`` last made a pass: its last pass that went through where the loop keeps
    that (``last_pass_ok``), else the start of its last pass (``last_run``)."""
    moment: datetime | None = getattr(loop, "last_pass_ok", loop.last_run)
    return moment
