"""The daily limits' rules, alone (``Limits`` in bot/domain/limits.py): what a used-up limit
is, and which one is named when several are."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain.limits import LimitKind, LimitRefusal, Limits, Usage
from bot.domain.reports import PeriodError, parse_day

D = Decimal
SMALLEST = D(100)


def test_nothing_is_used_up_while_a_smallest_top_up_fits() -> None:
    limits = Limits(cashier_daily_sum=D(3000), cashier_daily_count=3, client_daily_sum=D(500))
    assert limits.used_up(SMALLEST, Usage(D(2900), 2), Usage(D(400), 1)) is None


def test_the_count_reached_is_used_up_whatever_the_sums() -> None:
    limits = Limits(cashier_daily_count=2, client_daily_sum=D(100000))
    assert limits.used_up(SMALLEST, Usage(D(200), 2)) == LimitRefusal(
        LimitKind.CASHIER_COUNT, D(2), D(0)
    )


def test_less_than_the_smallest_top_up_left_is_used_up() -> None:
    limits = Limits(cashier_daily_sum=D(3000))
    assert limits.used_up(SMALLEST, Usage(D(2950), 5)) == LimitRefusal(
        LimitKind.CASHIER_SUM, D(3000), D(50)
    )


def test_the_cashiers_own_limit_is_named_before_the_clients() -> None:
    # Both have less than 100 ₸ left, the client's less: another client would not help, so
    # the cashier's limit is the one to name.
    limits = Limits(cashier_daily_sum=D(3000), client_daily_sum=D(1000))
    refusal = limits.used_up(SMALLEST, Usage(D(2950), 1), Usage(D(990), 1))
    assert refusal is not None and refusal.kind is LimitKind.CASHIER_SUM


def test_the_client_limit_alone() -> None:
    limits = Limits(cashier_daily_sum=D(3000), client_daily_sum=D(1000))
    refusal = limits.used_up(SMALLEST, Usage(D(100), 1), Usage(D(950), 1))
    assert refusal == LimitRefusal(LimitKind.CLIENT_SUM, D(1000), D(50))
    assert limits.used_up(SMALLEST, Usage(D(100), 1)) is None  # the client not asked yet


def test_sums_left_puts_the_tightest_first_and_skips_limits_that_are_off() -> None:
    limits = Limits(cashier_daily_sum=D(3000), client_daily_sum=D(10000))
    left = limits.sums_left(Usage(D(1000), 1), Usage(D(500), 1))
    assert [(s.kind, s.left) for s in left] == [
        (LimitKind.CASHIER_SUM, D(2000)),
        (LimitKind.CLIENT_SUM, D(9500)),
    ]
    assert Limits().sums_left(Usage(D(1000), 1), Usage()) == []
    over = Limits(cashier_daily_sum=D(1000)).sums_left(Usage(D(1500), 2))
    assert over[0].left == D(0)  # never below nothing


@pytest.mark.parametrize("text", ["0001-01-01", "9999-12-31", "01.01.1999", "2026-02-30"])
def test_days_a_journal_cannot_hold_are_not_dates(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_day(text)
