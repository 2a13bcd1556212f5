"""The balance watch (BALANCE_ALERT_BELOW): one alert when the agent's balance falls below the
mark, none while it stays there, one when it is back; a failed ask changes nothing; three
instances on one journal send one alert; the supervisors read it through the bot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.allpay.answers import BalanceResult, ResponseHeader
from bot.allpay.protocol import AllpayError, AllpayErrorKind, PayStatus
from bot.devtools.telegram import FakeTelegram
from bot.domain.balance import BalanceAlert, Forecast
from bot.domain.forecast import MIN_SPAN, runs_out_at
from bot.domain.model import Role
from bot.store.db import Database
from bot.store.roster import Roster
from bot.usecases.balance import HORIZON, BalanceWatch, forecast
from bot.usecases.notices import Notices
from bot.wiring.preflight import preflight
from bot.wiring.web import vitals_of
from tests.fixtures import Connect
from tests.harness import ADMIN, SUPERVISOR, SUPERVISOR_CHAT, TOKEN, seed_payment
from tests.journal import Journal

ALMATY = ZoneInfo("Asia/Almaty")
#: 11:00 in Almaty: today's top-ups can be placed hours before it.
NOON = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
MARK = Decimal(100_000)
CHATS = {SUPERVISOR_CHAT, SUPERVISOR, ADMIN}


class Clock:
    def __init__(self, now: datetime = NOON) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


class FakeBalance:
    """Allpay's ``availableBalance``: the figure set, or the error set; asks counted."""

    tm_url: str | None = "http://tm.test"

    def __init__(self, figure: Decimal | Exception = Decimal(500_000)) -> None:
        self.figure = figure
        self.asks = 0

    async def available_balance(self, lang: str) -> BalanceResult:
        self.asks += 1
        await asyncio.sleep(0)
        if isinstance(self.figure, Exception):
            raise self.figure
        header = ResponseHeader("OK", "test", 0, NOON)
        return BalanceResult(header, str(self.figure), self.figure)


async def seed_roster(db: Database) -> None:
    await db.write(
        lambda tx: Roster().seed(
            tx, NOON, [ADMIN], {SUPERVISOR: Role.SUPERVISOR, 201: Role.CASHIER}
        )
    )


def watch(
    db: Database, allpay: FakeBalance, clock: Clock, instance: str = "a", every: float = 300
) -> BalanceWatch:
    return BalanceWatch(
        db,
        allpay,
        Notices([SUPERVISOR_CHAT]),
        ALMATY,
        threshold=MARK,
        every=every,
        agent="agent-1",
        instance=instance,
        clock=clock,
    )


async def alerts(db: Database) -> list[tuple[int, BalanceAlert]]:
    rows = await db.read(
        lambda tx: tx.all("SELECT chat_id, ref FROM outbox WHERE kind = 'balance' ORDER BY id")
    )
    return [(int(r["chat_id"]), BalanceAlert.from_ref(str(r["ref"]))) for r in rows]


def one_each(found: list[tuple[int, BalanceAlert]]) -> list[BalanceAlert]:
    """The alerts queued, one per message: each went to every supervisor chat once."""
    by_chat: dict[int, list[BalanceAlert]] = {}
    for chat, alert in found:
        by_chat.setdefault(chat, []).append(alert)
    assert set(by_chat) == CHATS
    sent = list(by_chat.values())
    assert all(each == sent[0] for each in sent)
    return sent[0]


# ---------------------------------------------------------------- the forecast


def test_the_forecast_is_todays_pace_in_decimal() -> None:
    # 300 000 ₸ spent since 08:00, at 11:00: 100 000 ₸ an hour; 90 000 ₸ lasts 54 min.
    first = NOON - timedelta(hours=3)
    cast = forecast(Decimal(90_000), Decimal(300_000), first, NOON)
    assert cast == Forecast(Decimal(100_000), Decimal("0.9"), NOON + timedelta(minutes=54))
    # The very moment the desk's Balance screen shows.
    assert cast.runs_out_at == runs_out_at(Decimal(90_000), Decimal(300_000), first, NOON)
    # Nothing spent today: no pace, nothing to tell.
    assert forecast(Decimal(90_000), Decimal(0), None, NOON) == Forecast()
    # Less than MIN_SPAN (30 min) of the day behind: too early to tell, as the desk says.
    early = NOON - MIN_SPAN + timedelta(seconds=1)
    assert forecast(Decimal(20_000), Decimal(10_000), early, NOON) == Forecast()
    # Run out already; and further off than the horizon (no moment then).
    assert forecast(Decimal(-5), Decimal(1000), NOON - timedelta(hours=1), NOON).hours_left == 0
    far = forecast(Decimal(10**9), Decimal(100), NOON - timedelta(hours=1), NOON)
    assert far.pace == Decimal(100) and far.runs_out_at is None
    assert far.hours_left is not None and far.hours_left * 3600 > HORIZON.total_seconds()


def test_an_alert_keeps_its_figures_in_its_stored_form() -> None:
    alert = BalanceAlert(
        True,
        Decimal("99999.50"),
        MARK,
        NOON,
        Forecast(Decimal("1234.56"), Decimal("81.0"), NOON + timedelta(hours=81)),
    )
    assert BalanceAlert.from_ref(alert.to_ref()) == alert
    back = BalanceAlert(False, Decimal(150_000), MARK, NOON)
    assert BalanceAlert.from_ref(back.to_ref()) == back
    with pytest.raises(ValueError, match="not a balance alert"):
        BalanceAlert.from_ref("guid-1234")


# ---------------------------------------------------------------- one journal


async def test_one_alert_below_none_while_it_stays_one_when_back(connect: Connect) -> None:
    db = await connect()
    await seed_roster(db)
    clock, allpay = Clock(), FakeBalance(Decimal(150_000))
    watcher = watch(db, allpay, clock)

    assert await watcher.run_once() == 0  # above the mark: noted, nothing said
    state = await watcher.state()
    assert state is not None and not state.below and state.balance == Decimal(150_000)
    assert await alerts(db) == []

    allpay.figure = Decimal("99999.99")
    clock.advance(5)
    assert await watcher.run_once() == 1
    fell = one_each(await alerts(db))
    assert len(fell) == 1
    assert fell[0].below and fell[0].balance == Decimal("99999.99") and fell[0].threshold == MARK
    assert fell[0].at == clock.now and fell[0].forecast == Forecast()  # no top-up today
    since = clock.now

    for figure in (Decimal(80_000), Decimal(60_000), Decimal(0)):
        allpay.figure = figure
        clock.advance(5)
        assert await watcher.run_once() == 0
    assert len(one_each(await alerts(db))) == 1
    state = await watcher.state()
    assert state is not None and state.below and state.since == since
    assert state.balance == Decimal(0) and state.checked_at == clock.now

    allpay.figure = Decimal(100_000)  # the mark itself is not below it
    clock.advance(5)
    assert await watcher.run_once() == 1
    fell, back = one_each(await alerts(db))
    assert not back.below and back.balance == Decimal(100_000) and back.at == clock.now
    state = await watcher.state()
    assert state is not None and not state.below and state.since == clock.now

    clock.advance(5)
    assert await watcher.run_once() == 0
    assert len(one_each(await alerts(db))) == 2
    assert allpay.asks == 7


async def test_a_failed_ask_changes_nothing_and_is_said_once(
    connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    db = await connect()
    await seed_roster(db)
    clock, allpay = Clock(), FakeBalance(Decimal(50_000))
    watcher = watch(db, allpay, clock)
    assert await watcher.run_once() == 1  # a first figure below the mark: told at once
    before = await watcher.state()

    caplog.set_level(logging.INFO, logger="bot")
    failures: list[Exception] = [
        AllpayError(AllpayErrorKind.UNAVAILABLE, "connection refused"),
        AllpayError(AllpayErrorKind.FAULT, "Service temporarily unavailable"),
        RuntimeError("something else"),
    ]
    for failure in failures:
        allpay.figure = failure
        clock.advance(5)
        assert await watcher.run_once() == 0
        assert await watcher.state() == before
    # A figure Allpay sends that is not a number is no figure either.
    allpay.figure = Decimal(0)
    nan: Any = allpay.available_balance

    async def not_a_number(lang: str) -> BalanceResult:
        result = await nan(lang)
        return BalanceResult(result.header, "n/a", None)

    allpay.available_balance = not_a_number  # type: ignore[method-assign]
    clock.advance(5)
    assert await watcher.run_once() == 0
    assert await watcher.state() == before
    said = [r.getMessage() for r in caplog.records if "availableBalance" in r.getMessage()]
    assert len(said) == 1 and "unavailable" in said[0], said

    allpay.available_balance = nan  # type: ignore[method-assign]
    allpay.figure = Decimal(200_000)
    clock.advance(5)
    assert await watcher.run_once() == 1  # back above: the recovery, once
    said = [r.getMessage() for r in caplog.records if "availableBalance" in r.getMessage()]
    assert len(said) == 2 and "is back" in said[1], said
    assert [a.below for a in one_each(await alerts(db))] == [True, False]


async def test_the_alert_says_until_when_it_lasts_at_todays_pace(connect: Connect) -> None:
    db = await connect()
    await seed_roster(db)
    journal = Journal(db)
    local = NOON.astimezone(ALMATY)
    # Completed today at 08:00 and 09:30 (Almaty); a declined one and yesterday's count not.
    for hours, amount in ((3, "200000"), (1.5, "100000")):
        await seed_payment(journal, amount=amount, created_at=NOON - timedelta(hours=hours))
    await seed_payment(
        journal, amount="450000", status=PayStatus.DECLINED, created_at=NOON - timedelta(hours=2)
    )
    await seed_payment(journal, amount="450000", created_at=NOON - timedelta(days=1))
    assert local.hour == 11

    clock, allpay = Clock(), FakeBalance(Decimal(90_000))
    watcher = watch(db, allpay, clock)
    assert await watcher.run_once() == 1
    (alert,) = one_each(await alerts(db))
    # 300 000 ₸ since 08:00: 100 000 ₸ an hour; 90 000 ₸ lasts until 11:54.
    assert alert.forecast == Forecast(
        Decimal(100_000), Decimal("0.9"), NOON + timedelta(minutes=54)
    )


async def test_one_instance_asks_and_the_lease_passes_on(connect: Connect) -> None:
    db = await connect()
    clock, allpay = Clock(), FakeBalance(Decimal(500_000))
    first, second = watch(db, allpay, clock, "a"), watch(db, allpay, clock, "b")
    await first.run_once()
    await second.run_once()
    assert allpay.asks == 1  # the second leaves it to the first
    clock.advance(5)
    await second.run_once()
    await first.run_once()
    assert allpay.asks == 2
    # The first stops (lets go): the second asks at once.
    await first.stop()
    clock.advance(1)
    await second.run_once()
    assert allpay.asks == 3
    # A holder that dies keeps it until its lease runs out (two periods).
    clock.advance(5)
    await first.run_once()
    assert allpay.asks == 3
    clock.advance(11)
    await first.run_once()
    assert allpay.asks == 4


async def test_an_older_figure_never_overwrites_a_newer_one(connect: Connect) -> None:
    db = await connect()
    await seed_roster(db)
    clock = Clock()
    watcher = watch(db, FakeBalance(), clock)
    assert await watcher.record(Decimal(50_000), NOON) is not None
    assert await watcher.record(Decimal(500_000), NOON - timedelta(seconds=1)) is None
    state = await watcher.state()
    assert state is not None and state.below and state.balance == Decimal(50_000)
    assert len(one_each(await alerts(db))) == 1


# ---------------------------------------------------------------- three instances


@pytest.mark.backends
async def test_three_instances_on_one_journal_send_one_alert(connect: Connect) -> None:
    """Three processes' watches (each its own connection) pass at once, with the figure
    below the mark: one asks, one alert goes out; and even three that all asked (a lease
    that ran out meanwhile) record one crossing."""
    dbs = [await connect() for _ in range(3)]
    await seed_roster(dbs[0])
    clock, allpay = Clock(), FakeBalance(Decimal(40_000))
    watchers = [watch(db, allpay, clock, name) for db, name in zip(dbs, "abc", strict=True)]
    done = await asyncio.gather(*(w.run_once() for w in watchers))
    assert sorted(done) == [0, 0, 1] and allpay.asks == 1
    assert len(one_each(await alerts(dbs[0]))) == 1

    clock.advance(5)
    allpay.figure = Decimal(400_000)
    # Moments a microsecond apart: whichever commits first, the others find it recorded.
    recorded = await asyncio.gather(
        *(
            w.record(Decimal(400_000), clock.now + timedelta(microseconds=i))
            for i, w in enumerate(watchers)
        ),
        return_exceptions=True,
    )
    assert sum(1 for r in recorded if isinstance(r, BalanceAlert)) == 1, recorded
    assert [a.below for a in one_each(await alerts(dbs[0]))] == [True, False]
    for _ in range(3):
        clock.advance(5)
        await asyncio.gather(*(w.run_once() for w in watchers))
    assert len(one_each(await alerts(dbs[0]))) == 2


# ---------------------------------------------------------------- through the bot


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - a loop's pass, no event to wait on
            await asyncio.sleep(0.01)


async def until_delivered(db: Database, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while await db.read(  # noqa: ASYNC110 - the outbox marks rows done as it delivers
            lambda tx: tx.value(
                "SELECT COUNT(*) FROM outbox WHERE kind = 'balance' AND done_at IS NULL"
            )
        ):
            await asyncio.sleep(0.02)


async def pass_made(watcher: BalanceWatch) -> None:
    """Wake the watch and wait until it has made a pass that went through."""
    before = watcher.last_pass_ok
    watcher.wakeup.set()
    await until(lambda: watcher.last_pass_ok is not None and watcher.last_pass_ok != before)


async def test_supervisors_read_the_alert_and_the_recovery(controlled: Any) -> None:
    """The whole bot on the embedded sandbox: the sandbox's balance falls below the mark, the
    supervisors' group and their private chats read one alert, and one when it is back."""
    async with controlled(balance_alert_below="1000000") as h_:
        watcher = h_.app.balance
        assert watcher is not None
        await until(lambda: watcher.last_pass_ok is not None)  # the first pass: at start
        assert await watcher.state() is not None
        ledger, agent = h_.sandbox.ledger, h_.app.allpay.requester

        await ledger.set_balance(agent, Decimal("250000.50"))
        await pass_made(watcher)
        for chat in CHATS:
            message = await h_.tg.wait_message(chat, lambda m: "below" in m.text)
            assert "1\u202f000\u202f000\u00a0₸" in message.text
            assert "250\u202f000,50\u00a0₸" in message.text
            assert "cannot tell how long it lasts" in message.text  # no top-up today
            assert "SANDBOX" in message.text

        # /metrics: the last figure and the alert, from the journal.
        scraped = await h_.app.metrics.render(h_.app.reports, vitals_of(h_.app))
        every = [
            sample
            for family in text_string_to_metric_families(scraped.decode())
            for sample in family.samples
        ]
        samples = {sample.name: sample.value for sample in every if not sample.labels}
        assert samples["cashin_agent_balance_tenge"] == 250000.5
        assert samples["cashin_agent_balance_below"] == 1
        assert samples["cashin_agent_balance_alert_below_tenge"] == 1_000_000
        assert samples["cashin_agent_balance_checked_timestamp_seconds"] > 0
        alive = {s.labels["loop"] for s in every if s.name == "cashin_loop_alive" and s.value}
        assert "balance" in alive

        await pass_made(watcher)  # still below: nothing more
        await ledger.set_balance(agent, Decimal(5_000_000))
        await pass_made(watcher)
        for chat in CHATS:
            await h_.tg.wait_message(chat, lambda m: "back above" in m.text)
        await pass_made(watcher)  # back: nothing more either
        outbox = await alerts(h_.app.db)
        assert len(outbox) == 2 * len(CHATS)
        await until_delivered(h_.app.db)
        for chat in CHATS:
            texts = [m.text for m in h_.tg.messages(chat) if "Allpay balance" in m.text]
            assert len(texts) == 2, texts


async def test_check_says_what_the_watch_does_and_whether_it_is_below_now(
    controlled: Any, telegram: FakeTelegram
) -> None:
    """``python -m bot check``'s lines, in-process: the watch's line follows the balance's,
    a warning when the balance is below the mark now (the sandbox's is 100 000 000 ₸)."""
    telegram.tokens = {TOKEN}
    for mark, below in (("1000000", False), ("200000000", True)):
        outcomes = await preflight(controlled.settings(balance_alert_below=mark))
        lines = [outcome.line() for outcome in outcomes]
        (line,) = [line for line in lines if "BALANCE_ALERT_BELOW" in line]
        assert "availableBalance" in lines[lines.index(line) - 1], lines
        assert line.startswith("⚠️" if below else "✅") and f"{mark} ₸" in line
        assert ("below now" in line) is below
        assert all(outcome.ok for outcome in outcomes if outcome.counts), lines
    outcomes = await preflight(controlled.settings())
    assert not [o for o in outcomes if "BALANCE_ALERT_BELOW" in o.name]
