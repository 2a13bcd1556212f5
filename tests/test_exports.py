"""The payments' two exports agree (issue 26, item 9): the CSV and the XLSX have the same
columns in the same order, fee and cash included; cash accepted only where it was kept (✅),
cash held apart where Allpay's final word is missing (⏳/⚠️), neither where it went back (❌);
the XLSX says statuses in the reader's language, the CSV its stable codes, listed in the
README."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from aiogram.utils.i18n import gettext

from bot.documents.export import export_xlsx
from bot.domain import reports
from bot.domain.model import Payment, Status
from bot.domain.reports import CSV_COLUMNS, export_csv
from bot.telegram.runtime.i18n import make_i18n
from bot.telegram.shared.texts import status_label

ROOT = Path(__file__).resolve().parents[1]
ALMATY = ZoneInfo("Asia/Almaty")
MOMENT = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)  # 10:00 in Almaty
CASHIER = 2001
NAMES = {CASHIER: "Әлия Сәрсенова"}
AMOUNT, FEE = Decimal(5000), Decimal(150)
CASH = Decimal(5150)


def _payment(status: Status, number: int) -> Payment:
    final = status.is_final
    return Payment(
        guid=f"{{00000000-0000-4000-8000-{number:012d}}}",
        draft_id=None,
        requester="agent",
        cashier_id=CASHIER,
        chat_id=CASHIER,
        message_id=None,
        login="77000000001",
        client_name="Иванова Анна",
        amount=AMOUNT,
        lang="ru",
        status=status,
        attempts=1,
        last_error=None,
        user_message=None,
        developer_message=None,
        reason=None,
        created_at=MOMENT,
        updated_at=MOMENT,
        next_attempt_at=MOMENT,
        last_attempt_at=MOMENT,
        final_at=MOMENT if final else None,
        alerted_at=None,
        receipt_no=number if status is Status.COMPLETED else None,
        fee=FEE,
    )


PAYMENTS = [_payment(status, n) for n, status in enumerate(Status, start=1)]
#: Where each status's cash is: kept (the agent's), held apart, or given back (neither).
CASH_COLUMNS = {
    Status.COMPLETED: (CASH, None),
    Status.NEW: (None, CASH),
    Status.PENDING: (None, CASH),
    Status.UNKNOWN: (None, CASH),
    Status.DECLINED: (None, None),
}


def _csv(payments: list[Payment]) -> list[dict[str, str]]:
    data = export_csv(payments, NAMES, ALMATY)
    rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline=""), delimiter=";"))
    assert rows[0] == list(CSV_COLUMNS)
    return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]


def _xlsx(
    payments: list[Payment], lang: str
) -> tuple[list[str], list[list[object]], dict[Status, str]]:
    """The payments sheet's titles and rows, and the status words of ``lang``."""
    i18n = make_i18n(lang)
    with i18n.context(), i18n.use_locale(lang):
        data = export_xlsx(payments, NAMES, ALMATY, gettext, status_label)
        labels = {status: status_label(status) for status in Status}
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    return [str(title) for title in rows[0]], rows[1:], labels


def _money(value: object) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value)).quantize(Decimal("0.01"))


def test_the_csv_has_fee_and_cash_only_where_it_was_kept_or_held() -> None:
    rows = {row["status"]: row for row in _csv(PAYMENTS)}
    assert set(rows) == {s.value for s in Status}
    for status, (kept, held) in CASH_COLUMNS.items():
        row = rows[status.value]
        assert row["amount_kzt"] == "5000.00" and row["fee_kzt"] == "150.00", row
        assert _money(row["cash_accepted_kzt"]) == kept, (status, row)
        assert _money(row["cash_held_kzt"]) == held, (status, row)


def test_the_xlsx_names_cash_accepted_only_where_it_was_kept() -> None:
    """A ❌ top-up's cash went back to the client; a ⏳/⚠️ one's is held apart."""
    titles, rows, labels = _xlsx(PAYMENTS, "en")
    accepted = titles.index("Cash accepted, ₸")
    by_status = {payment.status: row for payment, row in zip(PAYMENTS, rows, strict=True)}
    assert _money(by_status[Status.COMPLETED][accepted]) == CASH
    for status in (Status.DECLINED, Status.PENDING, Status.NEW, Status.UNKNOWN):
        assert by_status[status][accepted] is None, (labels[status], by_status[status])


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_the_xlsx_has_the_csvs_columns_in_order_with_statuses_in_words(lang: str) -> None:
    titles, rows, labels = _xlsx(PAYMENTS, lang)
    assert len(titles) == len(CSV_COLUMNS)  # one XLSX column per CSV column, in its order
    csv_rows = _csv(PAYMENTS)
    assert len(rows) == len(csv_rows) == len(PAYMENTS)
    for payment, row, csv_row in zip(PAYMENTS, rows, csv_rows, strict=True):
        values = dict(zip(CSV_COLUMNS, row, strict=True))
        assert csv_row["status"] == payment.status.value  # the stable code
        assert values["status"] == labels[payment.status]  # the reader's word
        for code in ("amount_kzt", "fee_kzt", "cash_accepted_kzt", "cash_held_kzt"):
            assert _money(values[code]) == _money(csv_row[code]), (payment.status, code)
        for code in ("client_login", "client_name", "cashier_name", "guid"):
            assert values[code] == csv_row[code]
        assert values["created_local"] == datetime(2026, 11, 28, 10, 0)
        assert csv_row["created_local"] == "2026-11-28 10:00:00"
        kept, held = CASH_COLUMNS[payment.status]
        assert _money(values["cash_accepted_kzt"]) == kept, payment.status
        assert _money(values["cash_held_kzt"]) == held, payment.status
    if lang == "ru":
        assert titles[:7] == [
            "Создано",
            "Завершено",
            "Статус",
            "Сумма, ₸",
            "Комиссия, ₸",
            "Принято наличными, ₸",
            "Наличные до ответа Allpay, ₸",
        ]
        assert labels[Status.COMPLETED] == "проведено"
    if lang == "en":
        assert titles[5:7] == ["Cash accepted, ₸", "Cash held until Allpay answers, ₸"]


def test_a_row_has_a_value_for_every_column() -> None:
    for payment in PAYMENTS:
        assert len(reports.export_row(payment, NAMES)) == len(CSV_COLUMNS)
    declined = replace(PAYMENTS[0], status=Status.DECLINED, fee=Decimal(0))
    assert _csv([declined])[0]["fee_kzt"] == "0.00"


def test_the_readme_lists_every_csv_column_and_status_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([a-z_]+|[A-Z]+)`", readme))
    assert set(CSV_COLUMNS) <= listed, set(CSV_COLUMNS) - listed
    assert {s.value for s in Status} <= listed, {s.value for s in Status} - listed
