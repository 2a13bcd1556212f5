"""Supervisors' commands over real HTTP, and the pure period / look-up / CSV helpers."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bot.allpay.protocol import PayStatus
from bot.domain.clock import utcnow
from bot.domain.model import Payment
from bot.domain.reports import (
    CSV_COLUMNS,
    Lookup,
    PeriodError,
    PeriodProblem,
    parse_lookup,
    parse_period,
)
from bot.usecases.digest import DigestScheduler
from tests.harness import (
    CASHIER,
    CASHIER_2,
    SUPERVISOR,
    SUPERVISOR_CHAT,
    Harness,
    seed_payment,
)

ALMATY = ZoneInfo("Asia/Almaty")
TODAY = date(2026, 11, 28)


# ---------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], (TODAY, TODAY)),
        (["2026-11-01"], (date(2026, 11, 1), date(2026, 11, 1))),
        (["01.11.2026", "2026-11-30"], (date(2026, 11, 1), date(2026, 11, 30))),
        (["2026-09-01", "2026-12-02"], (date(2026, 9, 1), date(2026, 12, 2))),  # 93 days
    ],
)
def test_periods_people_type(args: list[str], expected: tuple[date, date]) -> None:
    assert parse_period(args, TODAY) == expected


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["2026-13-01"], PeriodProblem.BAD_DATE),
        (["31.02.2026"], PeriodProblem.BAD_DATE),
        (["yesterday"], PeriodProblem.BAD_DATE),
        (["2026-11-30", "2026-11-01"], PeriodProblem.REVERSED),
        (["2026-09-01", "2026-12-03"], PeriodProblem.TOO_LONG),  # 94 days
        (["2026-11-01", "2026-11-02", "2026-11-03"], PeriodProblem.TOO_MANY),
    ],
)
def test_bad_periods_are_named(args: list[str], problem: PeriodProblem) -> None:
    with pytest.raises(PeriodError) as info:
        parse_period(args, TODAY)
    assert info.value.problem is problem


def test_lookup_reads_guids_prefixes_and_logins() -> None:
    guid = "{1A2B3C4D-0000-4000-8000-00000000ABCD}"
    assert parse_lookup(guid) == Lookup("1a2b3c4d-0000-4000-8000-00000000abcd", None)
    assert parse_lookup("1a2b3c4d") == parse_lookup("{1a2b3c4d")
    assert parse_lookup("+7 701 000 00 01") is not None
    assert parse_lookup("+7 701 000 00 01").login == "77010000001"  # type: ignore[union-attr]
    # Eleven digits: a phone number, and (hex too) a GUID prefix: both are searched.
    both = parse_lookup("77010000001")
    assert both is not None and both.login == "77010000001" and both.guid_prefix == "77010000001"
    for bad in ("1a2b3c4", "zzzzzzzz", "1a2b3c4d'--", "", "{}", "1a2b-3c"):
        assert parse_lookup(bad) is None, bad


# ---------------------------------------------------------------- /report


async def test_report_sums_equal_the_journal_rows_of_the_local_day(harness: Harness) -> None:
    """Rows on both sides of midnight in TIMEZONE (Asia/Almaty, UTC+5): only the day's count."""
    journal = harness.journal
    await journal.set_user_name(CASHIER, "Dana")
    await journal.set_user_name(CASHIER_2, "Aidos")
    day = date(2026, 11, 20)
    midnight = datetime.combine(day, time(0), tzinfo=ALMATY)
    placed = [
        (midnight - timedelta(microseconds=1), CASHIER, "7000"),  # the day before
        (midnight, CASHIER, "1000.50"),  # the first instant of the day
        (midnight + timedelta(hours=12), CASHIER_2, "2500"),
        (midnight + timedelta(days=1) - timedelta(microseconds=1), CASHIER, "300"),  # last
        (midnight + timedelta(days=1), CASHIER_2, "9000"),  # the day after
    ]
    for moment, cashier, amount in placed:
        await seed_payment(journal, cashier_id=cashier, amount=amount, created_at=moment)
    await seed_payment(
        journal, amount="400", status=PayStatus.DECLINED, created_at=midnight + timedelta(hours=1)
    )
    rows = await journal.db.query(
        "SELECT cashier_id, status, amount_tiyn, created_at FROM payments"
    )
    in_day = [r for r in rows if datetime.fromisoformat(r[3]).astimezone(ALMATY).date() == day]
    completed = {
        c: sum(Decimal(r[2]) / 100 for r in in_day if r[0] == c and r[1] == "COMPLETED")
        for c in (CASHIER, CASHIER_2)
    }
    assert completed == {CASHIER: Decimal("1300.50"), CASHIER_2: Decimal("2500")}

    report = await harness.say(harness.user(SUPERVISOR), "/report 2026-11-20")
    assert report.text.startswith("<b>Top-ups on 20.11.2026</b>")
    cashier_block, rest = report.text.split(f"Aidos ({CASHIER_2})")
    assert f"Dana ({CASHIER})" in cashier_block
    assert "✅ completed: 2 · 1\u202f300,50\u00a0₸" in cashier_block
    assert "❌ declined: 1 · 400\u00a0₸" in cashier_block
    other_block, total = rest.split("Total")
    assert "✅ completed: 1 · 2\u202f500\u00a0₸" in other_block
    assert (
        "✅ completed: 3 · 3\u202f800,50\u00a0₸" in total and "❌ declined: 1 · 400\u00a0₸" in total
    )
    assert "7\u202f000" not in report.text and "9\u202f000" not in report.text
    await harness.chart_after(report)  # no desk: the day's chart follows (tests/test_chart.py)
    # The same day typed the local way gives the same report.
    again = await harness.say(harness.user(SUPERVISOR), "/report 20.11.2026")
    assert again.text == report.text


async def test_report_and_export_refuse_bad_dates_and_change_nothing(harness: Harness) -> None:
    boss = harness.user(SUPERVISOR)
    cases = {
        "/report 2026-13-01": "is not a date",
        "/report 2026-11-01 2026-11-02": "Usage: /report",
        "/export 2026-11-30 2026-11-01": "first date is after the second",
        "/export 2026-01-01 2026-11-30": "longer than 93 days",
        "/export 2026-11-01 2026-11-02 2026-11-03": "at most two dates",
        "/export 32.01.2026": "is not a date",
    }
    for command, expected in cases.items():
        reply = await harness.say(boss, command)
        assert expected in reply.text, (command, reply.text)
        assert reply.document is None
    assert not any(m.document for m in harness.tg.messages(SUPERVISOR))


# ---------------------------------------------------------------- /export


async def test_export_is_utf8_bom_csv_with_one_row_per_payment_amounts_exact(
    harness: Harness,
) -> None:
    journal = harness.journal
    await journal.set_user_name(CASHIER, "Әлия Сәрсенова")
    inside = [
        await seed_payment(
            journal,
            amount=amount,
            created_at=datetime(2026, 11, day, 10, tzinfo=ALMATY),
            client_name='=HYPERLINK("x")' if day == 3 else "Иванова Анна",
        )
        for day, amount in ((1, "1000.50"), (2, "250000"), (3, "0.01"))
    ]
    await seed_payment(journal, amount="5", created_at=datetime(2026, 11, 4, 0, tzinfo=ALMATY))
    reply = await harness.say(harness.user(SUPERVISOR), "/export 2026-11-01 2026-11-03")
    assert reply.document is not None
    name, data = reply.document
    assert name == "payments_2026-11-01_2026-11-03.csv"
    workbook = await harness.tg.wait_message(SUPERVISOR, after=reply.message_id)
    assert workbook.document is not None and "3 top-ups" in workbook.text
    _check_xlsx(workbook.document, inside)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline=""), delimiter=";"))
    assert rows[0] == list(CSV_COLUMNS)
    body = rows[1:]
    assert len(body) == 3
    by_guid = {row[CSV_COLUMNS.index("guid")]: row for row in body}
    assert set(by_guid) == {p.guid for p in inside}
    amounts = sorted(Decimal(row[CSV_COLUMNS.index("amount_kzt")]) for row in body)
    assert amounts == [Decimal("0.01"), Decimal("1000.50"), Decimal("250000.00")]
    first = by_guid[inside[0].guid]
    assert first[CSV_COLUMNS.index("cashier_name")] == "Әлия Сәрсенова"
    assert first[CSV_COLUMNS.index("client_name")] == "Иванова Анна"
    assert first[CSV_COLUMNS.index("client_login")] == "77000000001"
    assert first[CSV_COLUMNS.index("created_local")] == "2026-11-01 10:00:00"
    assert first[CSV_COLUMNS.index("status")] == "COMPLETED"
    # A client name Excel would run as a formula is defused.
    assert by_guid[inside[2].guid][CSV_COLUMNS.index("client_name")].startswith("'=")


def _check_xlsx(document: tuple[str, bytes], inside: list[Payment]) -> None:
    """The same payments as a workbook Excel reads right in any locale: numbers are numbers,
    times are times, text stays text; a second sheet has the totals."""
    name, data = document
    assert name == "payments_2026-11-01_2026-11-03.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Top-ups", "Totals", "Handovers"]
    payments = book["Top-ups"]
    header = [c.value for c in payments[1]]
    assert header[:4] == ["Created", "Final", "Status", "Amount, ₸"]
    rows = {row[header.index("GUID")].value: row for row in payments.iter_rows(min_row=2)}
    assert set(rows) == {p.guid for p in inside}
    amounts = sorted(Decimal(str(row[header.index("Amount, ₸")].value)) for row in rows.values())
    assert amounts == [Decimal("0.01"), Decimal("1000.5"), Decimal("250000")]
    first = rows[inside[0].guid]
    created = first[header.index("Created")]
    assert created.is_date and created.value == datetime(2026, 11, 1, 10, 0)  # local time
    amount = first[header.index("Amount, ₸")]
    assert amount.data_type == "n" and amount.number_format == "#,##0.00"
    assert first[header.index("Status")].value == "completed"
    assert first[header.index("Cashier")].value == "Әлия Сәрсенова"
    assert first[header.index("Login")].value == "77000000001"  # text: no 7.7E+10
    formula = rows[inside[2].guid][header.index("Client")]
    assert formula.data_type == "s" and formula.value == '=HYPERLINK("x")'  # never run
    totals = [[c.value for c in row] for row in book["Totals"].iter_rows(min_row=2)]
    assert totals[0][1:4] == ["Әлия Сәрсенова", "completed", 3]
    assert Decimal(str(totals[0][4])) == Decimal("251000.51")
    assert totals[-1][1:4] == ["Total", "completed", 3]


# ---------------------------------------------------------------- /pending, /balance


async def test_pending_lists_unresolved_payments_with_age_and_attempts(harness: Harness) -> None:
    journal = harness.journal
    stuck = await seed_payment(
        journal, amount="1500", status=PayStatus.PENDING, created_at=utcnow() - timedelta(hours=3)
    )
    await journal.give_up(stuck.guid)
    waiting = await seed_payment(
        journal,
        cashier_id=CASHIER_2,
        amount="700",
        status=PayStatus.PENDING,
        created_at=utcnow() - timedelta(minutes=7),
    )
    done = await seed_payment(journal, amount="999")  # completed: not listed
    reply = await harness.say(harness.user(SUPERVISOR), "/pending")
    assert "final answer: 2" in reply.text
    assert f"⚠️ 1\u202f500\u00a0₸ · 7700***0001 · <code>{stuck.guid[1:9]}</code>" in reply.text
    assert "3 h 0 min · attempts: 1" in reply.text
    assert f"⏳ 700\u00a0₸ · 7700***0001 · <code>{waiting.guid[1:9]}</code>" in reply.text
    assert "7 min · attempts: 1" in reply.text
    # Its amount and its GUID are absent (a bare "999" may be part of another GUID).
    assert "999\u00a0₸" not in reply.text and done.guid[1:9] not in reply.text


async def test_balance_comes_from_the_sandbox_and_drops_as_it_pays(harness: Harness) -> None:
    boss = harness.user(SUPERVISOR)
    before = await harness.say(boss, "/balance")
    assert "100\u202f000\u202f000\u00a0₸" in before.text
    user = harness.user()
    card = await harness.top_up_card(user, "77000000001", "2500")
    await harness.press(user, card, "Confirm")
    await harness.wait_status(CASHIER, card.message_id, "✅")
    after = await harness.say(boss, "/balance")
    assert "99\u202f997\u202f500\u00a0₸" in after.text
    assert harness.sandbox.stats.requests["availableBalance"] == 2


async def test_balance_without_a_tm_service_says_so(controlled: Any) -> None:
    async with controlled() as h:
        h.app.allpay.tm_url = None
        reply = await h.say(h.user(SUPERVISOR), "/balance")
        assert "ALLPAY_TM_URL" in reply.text
        h.app.allpay.tm_url = "http://127.0.0.1:9/nothing-listens-here"
        reply = await h.say(h.user(SUPERVISOR), "/balance")
        assert "did not answer" in reply.text


async def test_cashiers_cannot_use_supervisor_commands(harness: Harness) -> None:
    await seed_payment(harness.journal, cashier_id=CASHIER_2)
    user = harness.user()
    for command in ("report", "export", "pending", "balance"):
        reply = await harness.say(user, f"/{command}")
        assert reply.text == f"Only supervisors and admins can use /{command}."
    assert not any(m.document for m in harness.tg.messages(CASHIER))
    assert harness.sandbox.stats.requests["availableBalance"] == 0


# ---------------------------------------------------------------- the daily digest


async def test_daily_digest_goes_to_supervisor_chats_once_per_day(harness: Harness) -> None:
    journal = harness.journal
    # Days in the past: the outbox delivers by the real clock, the scheduler runs on a fake one.
    day = utcnow().astimezone(ALMATY).date() - timedelta(days=10)
    next_day = day + timedelta(days=1)
    noon = datetime.combine(day, time(12), tzinfo=ALMATY)
    await seed_payment(journal, amount="1200", created_at=noon)
    await seed_payment(journal, amount="99", created_at=noon - timedelta(days=1))
    now = [datetime.combine(day, time(20, 59), tzinfo=ALMATY)]
    notices = harness.app.sender.notices  # the bot's own: they wake its outbox
    scheduler = DigestScheduler(harness.app.db, notices, time(21, 0), ALMATY, clock=lambda: now[0])
    assert await scheduler.run_once() == 0  # before 21:00; and a fresh bot owes no yesterday
    assert await scheduler.next_due() == datetime.combine(day, time(21), tzinfo=ALMATY)
    now[0] = datetime.combine(day, time(21), tzinfo=ALMATY)
    assert await scheduler.run_once() == 1
    digest = await harness.tg.wait_message(SUPERVISOR_CHAT, lambda m: "Daily digest" in m.text)
    assert f"{day:%d.%m.%Y}" in digest.text
    totals, cash = digest.text.split("💵")  # the day's top-ups; cash on hand now (both)
    assert "✅ completed: 1 · 1\u202f200\u00a0₸" in totals and "99\u00a0₸" not in totals
    assert "Cash on hand now" in cash and "1\u202f299\u00a0₸" in cash
    assert await scheduler.run_once() == 0  # once per day, also after a restart:
    restarted = DigestScheduler(harness.app.db, notices, time(21, 0), ALMATY, clock=lambda: now[0])
    assert await restarted.run_once() == 0
    assert await scheduler.next_due() == datetime.combine(next_day, time(21), tzinfo=ALMATY)
    # Down at digest time the next day, back the morning after: the missed digest is sent.
    now[0] = datetime.combine(next_day + timedelta(days=1), time(8), tzinfo=ALMATY)
    assert await scheduler.run_once() == 1
    await harness.tg.wait_message(SUPERVISOR_CHAT, lambda m: f"{next_day:%d.%m.%Y}" in m.text)
    digests = [m for m in harness.tg.messages(SUPERVISOR_CHAT) if "Daily digest" in m.text]
    assert len(digests) == 2
