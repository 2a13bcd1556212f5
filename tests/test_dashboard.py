"""The desk's figures (bot/usecases/dashboard.py) on a real journal, both backends: a day's
totals by status and cashier, top-ups per local hour against the 7 days before, what waits
now, look-ups, the balance's forecast — and the roster read fresh on every call."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.allpay.answers import BalanceResult, ResponseHeader
from bot.allpay.protocol import PayStatus
from bot.domain.forecast import runs_out_at
from bot.domain.model import Role, Status
from bot.domain.reports import Lookup
from bot.store.db import Database, Tx
from bot.store.roster import Roster
from bot.usecases.dashboard import Dashboard
from bot.usecases.reports import BalanceAnswer, Reports
from tests.fixtures import Connect
from tests.harness import CASHIER, CASHIER_2, SUPERVISOR, seed_payment
from tests.journal import Journal

pytestmark = pytest.mark.backends

ALMATY = ZoneInfo("Asia/Almaty")
#: "Now" in these tests: 15:00 in Almaty (10:00 UTC).
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=ALMATY)
TODAY = NOW.date()


class FixedBalance:
    tm_url: str | None = "http://tm.example/"

    def __init__(self, amount: str) -> None:
        self.amount = amount

    async def available_balance(self, lang: str) -> BalanceResult:
        header = ResponseHeader("OK", "test", 0, NOW.astimezone(UTC))
        return BalanceResult(header, self.amount, Decimal(self.amount))


def dashboard(db: Database, balance: str = "100000") -> Dashboard:
    reports = Reports(db, ALMATY, FixedBalance(balance))
    return Dashboard(db, ALMATY, reports, clock=lambda: NOW.astimezone(UTC))


async def seed(journal: Journal, at: datetime, amount: str = "1000", **kwargs: Any) -> str:
    payment = await seed_payment(journal, amount=amount, created_at=at, **kwargs)
    return payment.guid


async def test_a_days_figures_by_status_cashier_and_local_hour(connect: Connect) -> None:
    db = await connect()
    journal = Journal(db)
    await seed(journal, NOW.replace(hour=10, minute=5), "1000")
    await seed(journal, NOW.replace(hour=10, minute=50), "2500.50", cashier_id=CASHIER_2)
    await seed(journal, NOW.replace(hour=0, minute=10), "700", status=PayStatus.DECLINED)
    await seed(journal, NOW.replace(hour=14), "300", status=PayStatus.PENDING)
    # Yesterday 23:30 local is not today's, though it is today in UTC... and 00:10 is.
    await seed(journal, (NOW - timedelta(days=1)).replace(hour=23, minute=30), "5")
    # The 7 days before: hour 10 once on each (an average of 1), hour 3 on one (1/7).
    for days in range(1, 8):
        await seed(journal, (NOW - timedelta(days=days)).replace(hour=10), "10")
    await seed(journal, (NOW - timedelta(days=3)).replace(hour=3), "10")
    await seed(journal, (NOW - timedelta(days=8)).replace(hour=10), "10")  # too early
    guid = await seed(journal, NOW.replace(hour=11), "2000")
    await db.write(
        lambda tx: tx.run("UPDATE payments SET fee_tiyn = 15000 WHERE guid = ?", (guid,))
    )

    figures = await dashboard(db).day(TODAY)
    assert figures.count == 5
    assert figures.amount == Decimal("6500.50")
    assert figures.by_status[Status.COMPLETED].count == 3
    assert figures.by_status[Status.COMPLETED].amount == Decimal("5500.50")
    assert figures.by_status[Status.DECLINED].count == 1
    assert figures.by_status[Status.PENDING].amount == Decimal(300)
    assert figures.fees == Decimal(150)
    assert figures.cash_accepted == Decimal("5650.50")  # ✅ amounts + their fees
    assert figures.by_cashier[CASHIER_2][Status.COMPLETED].amount == Decimal("2500.50")
    assert sum(figures.hourly) == 5
    assert figures.hourly[10] == 2 and figures.hourly[0] == 1 and figures.hourly[11] == 1
    assert figures.hourly_average[10] == Decimal(1)
    assert figures.hourly_average[3] == Decimal(1) / 7
    assert figures.hourly_average[23] == Decimal(1) / 7  # yesterday's 23:30
    # A past day has its own figures; a day without any, zeros.
    assert (await dashboard(db).day(TODAY - timedelta(days=3))).count == 2
    empty = await dashboard(db).day(date(2020, 1, 1))
    assert empty.count == 0 and empty.hourly == [0] * 24


async def test_now_find_and_the_forecast(connect: Connect) -> None:
    db = await connect()
    journal = Journal(db)
    pending = await seed(journal, NOW.replace(hour=9), "3000", status=PayStatus.PENDING)
    await seed(journal, NOW.replace(hour=9, minute=30), "3000", cashier_id=CASHIER_2)
    await seed(journal, NOW.replace(hour=12), "6000", status=PayStatus.DECLINED)
    await seed(journal, NOW - timedelta(days=1), "999", login="77000000009")
    desk = dashboard(db, balance="12000")

    waiting = await desk.waiting()
    assert [p.guid for p in waiting.unresolved] == [pending]
    assert waiting.approvals == [] and waiting.handovers == []
    assert {p.cashier_id for p in waiting.book.positions} == {CASHIER, CASHIER_2}

    found, _names = await desk.find(None, None, None, Status.DECLINED)
    assert [p.amount for p in found] == [Decimal(6000)]
    found, _names = await desk.find(None, None, CASHIER_2, None)
    assert [p.cashier_id for p in found] == [CASHIER_2]
    found, _names = await desk.find(Lookup(None, "77000000009"), None, None, None)
    assert [p.amount for p in found] == [Decimal(999)]  # a login: any day
    prefix = pending.strip("{}")[:8]
    found, _names = await desk.find(Lookup(prefix, None), None, None, None)
    assert [p.guid for p in found] == [pending]

    # Sent or possibly sent today: 6000 (the ❌ not), from 09:00 to 15:00: 1000 an hour.
    forecast = await desk.balance("ru")
    assert forecast.balance.answer is BalanceAnswer.KNOWN
    assert forecast.spent_today == Decimal(6000)
    assert forecast.runs_out == NOW.astimezone(UTC) + timedelta(hours=12)


def test_the_forecast_says_nothing_it_cannot_know() -> None:
    start = NOW - timedelta(hours=2)
    assert runs_out_at(Decimal(100), Decimal(50), start, NOW) == NOW + timedelta(hours=4)
    assert runs_out_at(Decimal(100), Decimal(0), start, NOW) is None  # nothing sent
    assert runs_out_at(Decimal(0), Decimal(50), start, NOW) is None  # out already
    assert runs_out_at(Decimal(100), Decimal(50), NOW - timedelta(minutes=5), NOW) is None
    assert runs_out_at(Decimal(10**12), Decimal(1), start, NOW) is None  # beyond a year


async def test_the_viewer_is_read_from_the_roster_at_every_call(connect: Connect) -> None:
    db = await connect()
    other = await connect()  # another instance, sharing the journal
    desk = dashboard(db)
    roster = Roster()

    def add(tx: Tx) -> None:
        roster.seed(tx, NOW, [], {SUPERVISOR: Role.SUPERVISOR, CASHIER: Role.CASHIER})

    await other.write(add)
    viewer = await desk.viewer(SUPERVISOR)
    assert viewer is not None and viewer.role is Role.SUPERVISOR and not viewer.blocked
    await other.write(lambda tx: roster.set_blocked(tx, NOW, SUPERVISOR, True))
    blocked = await desk.viewer(SUPERVISOR)
    assert blocked is not None and blocked.blocked
    await other.write(lambda tx: roster.remove(tx, NOW, SUPERVISOR))
    assert await desk.viewer(SUPERVISOR) is None
