"""The daily limits' rules: what a day has used (:class:`Usage`), the limits that are on
(:class:`Limits`) and why an amount is refused (:class:`LimitRefusal`). Counted over the
journal in a transaction by ``bot/usecases/limits.py``. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class LimitKind(StrEnum):
    CASHIER_COUNT = "cashier_count"
    CASHIER_SUM = "cashier_sum"
    CLIENT_SUM = "client_sum"


@dataclass(frozen=True, slots=True)
class LimitRefusal:
    kind: LimitKind
    limit: Decimal  # tenge, or a count for CASHIER_COUNT
    left: Decimal

    def stored(self) -> str:
        """The form an approval request refused by a limit keeps as its reason."""
        return f"{LIMIT_REASON} {self.kind.value} {self.limit} {self.left}"

    @staticmethod
    def from_stored(text: str | None) -> LimitRefusal | None:
        """What :meth:`stored` wrote (None for anything else: a supervisor's words)."""
        parts = (text or "").split(" ")
        if len(parts) != 4 or parts[0] != LIMIT_REASON:
            return None
        try:
            return LimitRefusal(LimitKind(parts[1]), Decimal(parts[2]), Decimal(parts[3]))
        except (ValueError, ArithmeticError):
            return None


#: How an approval request refused by a daily limit at approval marks its reason.
LIMIT_REASON = "daily-limit"


@dataclass(frozen=True, slots=True)
class Usage:
    """What a day has used so far: sent (or possibly sent) plus waiting for approval."""

    amount: Decimal = Decimal(0)
    count: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.amount + other.amount, self.count + other.count)


@dataclass(frozen=True, slots=True)
class Limits:
    """Zero switches a control off."""

    cashier_daily_sum: Decimal = Decimal(0)
    cashier_daily_count: int = 0
    client_daily_sum: Decimal = Decimal(0)
    approval_threshold: Decimal = Decimal(0)
    approval_timeout: float = 900.0

    def needs_approval(self, amount: Decimal) -> bool:
        return self.approval_threshold > 0 and amount >= self.approval_threshold

    @property
    def counts_cashier(self) -> bool:
        return bool(self.cashier_daily_count or self.cashier_daily_sum)

    @property
    def counts_client(self) -> bool:
        return bool(self.client_daily_sum)

    def refusal(self, amount: Decimal, cashier: Usage, client: Usage) -> LimitRefusal | None:
        """Why ``amount`` may not be topped up today, given the day's usage; None if it may."""
        if self.cashier_daily_count and cashier.count + 1 > self.cashier_daily_count:
            left = Decimal(max(0, self.cashier_daily_count - cashier.count))
            return LimitRefusal(LimitKind.CASHIER_COUNT, Decimal(self.cashier_daily_count), left)
        if self.cashier_daily_sum and cashier.amount + amount > self.cashier_daily_sum:
            left = max(Decimal(0), self.cashier_daily_sum - cashier.amount)
            return LimitRefusal(LimitKind.CASHIER_SUM, self.cashier_daily_sum, left)
        if self.client_daily_sum and client.amount + amount > self.client_daily_sum:
            left = max(Decimal(0), self.client_daily_sum - client.amount)
            return LimitRefusal(LimitKind.CLIENT_SUM, self.client_daily_sum, left)
        return None

    def sums_left(self, cashier: Usage, client: Usage | None = None) -> list[LimitRefusal]:
        """Each daily sum limit that is on (the client's when ``client`` is given), with what
        is left of it today; the tightest first."""
        left = []
        if self.cashier_daily_sum:
            room = max(Decimal(0), self.cashier_daily_sum - cashier.amount)
            left.append(LimitRefusal(LimitKind.CASHIER_SUM, self.cashier_daily_sum, room))
        if client is not None and self.client_daily_sum:
            room = max(Decimal(0), self.client_daily_sum - client.amount)
            left.append(LimitRefusal(LimitKind.CLIENT_SUM, self.client_daily_sum, room))
        return sorted(left, key=lambda limit: limit.left)

    def used_up(
        self, smallest: Decimal, cashier: Usage, client: Usage | None = None
    ) -> LimitRefusal | None:
        """A limit nothing fits in any more today: the count reached, or less than
        ``smallest`` (the smallest top-up) left of a sum. None while a top-up may fit."""
        if self.cashier_daily_count and cashier.count >= self.cashier_daily_count:
            count = Decimal(self.cashier_daily_count)
            return LimitRefusal(LimitKind.CASHIER_COUNT, count, Decimal(0))
        # The cashier's own first: no other client would help then.
        full = [s for s in self.sums_left(cashier, client) if s.left < smallest]
        return min(full, key=lambda s: s.kind is not LimitKind.CASHIER_SUM, default=None)
