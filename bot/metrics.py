"""Prometheus metrics of one bot: payments, Allpay calls, Telegram's rate limits.

One registry per bot (not the global one), so several bots can run in one process (tests).
Journal-derived gauges are refreshed when scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.domain.clock import utcnow
from bot.domain.model import Status
from bot.redaction import redact_error
from bot.telegram.pacing import Lane
from bot.usecases.reports import Reports

ALLPAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
PACING_BUCKETS = (0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300)


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
        self._queue_depth: Callable[[], Mapping[Lane, int]] = dict

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

    async def refresh(self, reports: Reports, now: datetime | None = None) -> None:
        counts, oldest = await reports.health()
        for status in Status:
            self.payments.labels(status.value).set(counts.get(status, 0))
        self.pending.set(counts.get(Status.NEW, 0) + counts.get(Status.PENDING, 0))
        age = ((now or utcnow()) - oldest).total_seconds() if oldest else 0.0
        self.oldest_pending.set(max(0.0, age))
        depth = self._queue_depth()
        for lane in Lane:
            self.pacing_queue.labels(lane.label).set(depth.get(lane, 0))

    async def render(self, reports: Reports) -> bytes:
        await self.refresh(reports)
        return generate_latest(self.registry)


@dataclass
class TelegramReach:
    """Whether Telegram answered lately: reported by /healthz, never a reason to restart."""

    reachable: bool | None = None  # None: not asked yet
    last_success: datetime | None = None
    last_error: str | None = None  # redacted, one line


class TelegramWatch(BaseRequestMiddleware):
    """Sees every Bot API call, whoever made it (handlers, the outbox, start-up): counts 429s
    and keeps :class:`TelegramReach` current."""

    def __init__(self, metrics: Metrics, reach: TelegramReach) -> None:
        self.metrics = metrics
        self.reach = reach

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            response = await make_request(bot, method)
        except TelegramRetryAfter:
            self.metrics.telegram_retry_after.inc()
            self._answered()
            raise
        except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as exc:
            self.reach.reachable = False
            # A decode error carries Telegram's whole answer (people's messages): not kept.
            what = exc.message if isinstance(exc, ClientDecodeError) else exc
            self.reach.last_error = redact_error(
                f"{type(exc).__name__}: {what}" if isinstance(what, str) else what
            )
            raise
        except TelegramAPIError:
            self._answered()  # Telegram answered, if only to refuse
            raise
        self._answered()
        return response

    def _answered(self) -> None:
        self.reach.reachable = True
        self.reach.last_success = utcnow()
