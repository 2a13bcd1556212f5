"""The balance watch's figures on ``/metrics`` (with ``BALANCE_ALERT_BELOW`` only): the
agent's balance as last seen by any instance (the journal's), whether it is below the mark,
when it was asked, and the mark itself. :class:`bot.wiring.metrics.Metrics` reads the
journal and registers them on the first scrape that has them."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, Gauge

from bot.domain.balance import BalanceState


class BalanceGauges:
    def __init__(self) -> None:
        # Prometheus' values are floats: the tenge figures become floats here, for the
        # exposition only.
        self.balance = Gauge(
            "cashin_agent_balance_tenge",
            "The agent's Allpay balance as last seen by the balance watch (any instance)",
            registry=None,
        )
        self.below = Gauge(
            "cashin_agent_balance_below",
            "1: the agent's balance is below BALANCE_ALERT_BELOW (supervisors were told); 0: not",
            registry=None,
        )
        self.checked = Gauge(
            "cashin_agent_balance_checked_timestamp_seconds",
            "When Allpay last gave the balance watch a figure (0: never)",
            registry=None,
        )
        self.mark = Gauge(
            "cashin_agent_balance_alert_below_tenge",
            "BALANCE_ALERT_BELOW: supervisors are told when the balance falls below it",
            registry=None,
        )
        self._registered = False
        self._figure_registered = False

    def show(self, registry: CollectorRegistry, seen: BalanceState | None, mark: Decimal) -> None:
        """``seen``: the journal's last figure (None: none yet, the balance gauge absent)."""
        if not self._registered:
            for gauge in (self.below, self.checked, self.mark):
                registry.register(gauge)
            self._registered = True
        self.mark.set(float(mark))
        if seen is None:
            self.below.set(0)
            self.checked.set(0)
            return
        if not self._figure_registered:
            registry.register(self.balance)
            self._figure_registered = True
        self.balance.set(float(seen.balance))
        self.below.set(1 if seen.below else 0)
        self.checked.set(seen.checked_at.timestamp())
