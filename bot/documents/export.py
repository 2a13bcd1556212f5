"""The XLSX export: what a supervisor opens in Excel — real number and date cells (a ru/kk
Excel reads the CSV's ``5000.00`` as text), one sheet per kind: the payments (the CSV's
columns in its order, titles and statuses in the reader's language), the totals per cashier
and status, and the cash handovers.

openpyxl (~12 MB) loads at the first export, not with the bot."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.domain.cash import Handover, HandoverState
from bot.domain.model import Payment, Status, Totals
from bot.domain.reports import CSV_COLUMNS, ExportValue, export_row, summarize

if TYPE_CHECKING:
    from openpyxl.cell import Cell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

Gettext = Callable[[str], str]


def N_(message: str) -> str:
    """Marks a message for translation where it is named, not yet translated."""
    return message


DATE_FORMAT = "dd.mm.yyyy hh:mm:ss"
MONEY_FORMAT = "#,##0.00"
#: Sheet names are at most 31 characters.
_SHEET_NAME = 31


def _local(moment: datetime | None, tz: tzinfo) -> datetime | None:
    """Excel has no time zones: the local wall-clock time, as every screen of the bot shows."""
    return moment.astimezone(tz).replace(tzinfo=None) if moment else None


class _Sheet:
    def __init__(self, sheet: WriteOnlyWorksheet) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        self.sheet = sheet
        self._new = WriteOnlyCell
        self._bold = Font(bold=True)

    def header(self, titles: list[str], widths: list[int]) -> None:
        for index, width in enumerate(widths):
            # Write-only sheets take column widths before the first row (untyped in stubs).
            columns: Any = getattr(self.sheet, "column_dimensions")  # noqa: B009
            columns[chr(ord("A") + index)].width = width
        self.sheet.freeze_panes = "A2"
        self.sheet.append([self._cell(title, bold=True) for title in titles])

    def _cell(self, value: Any, *, bold: bool = False, format: str | None = None) -> Cell:
        cell = self._new(self.sheet, value=value)
        if isinstance(value, str):
            # Text stays text: a client's name "=HYPERLINK(…)" is never a formula.
            cell.data_type = "s"
        if bold:
            cell.font = self._bold
        if format is not None:
            cell.number_format = format
        return cell

    def row(self, values: list[Any]) -> None:
        cells = []
        for value in values:
            if isinstance(value, datetime):
                cells.append(self._cell(value, format=DATE_FORMAT))
            elif isinstance(value, Decimal):
                cells.append(self._cell(value, format=MONEY_FORMAT))
            else:
                cells.append(self._cell(value))
        self.sheet.append(cells)


#: The payments sheet has the CSV's columns (:data:`~bot.domain.reports.CSV_COLUMNS`), in
#: its order: each one's title in the reader's language, and its width.
PAYMENT_COLUMNS: dict[str, tuple[str, int]] = {
    "created_local": (N_("Created"), 20),
    "final_local": (N_("Final"), 20),
    "status": (N_("Status"), 20),
    "amount_kzt": (N_("Amount, ₸"), 14),
    "fee_kzt": (N_("Fee, ₸"), 10),
    "cash_accepted_kzt": (N_("Cash accepted, ₸"), 16),
    "cash_held_kzt": (N_("Cash held until Allpay answers, ₸"), 18),
    "client_login": (N_("Login"), 14),
    "client_name": (N_("Client"), 28),
    "cashier_id": (N_("Cashier ID"), 14),
    "cashier_name": (N_("Cashier"), 24),
    "guid": (N_("GUID"), 40),
    "receipt_no": (N_("Receipt No."), 12),
    "attempts": (N_("Attempts"), 10),
    "allpay_message": (N_("Allpay's message"), 40),
}


def _payment_cell(value: ExportValue, tz: tzinfo, status_label: Callable[[Status], str]) -> Any:
    """A CSV value as the XLSX shows it: the status in words, times local."""
    if isinstance(value, Status):
        return status_label(value)
    if isinstance(value, datetime):
        return _local(value, tz)
    return value


def export_xlsx(
    payments: Iterable[Payment],
    names: Mapping[int, str],
    tz: tzinfo,
    _: Gettext,
    status_label: Callable[[Status], str],
    handovers: Iterable[Handover] = (),
    handover_label: Callable[[HandoverState], str] = str,
) -> bytes:
    """A workbook in the reader's language: sheet 1 every payment, sheet 2 the totals,
    sheet 3 the cash handovers."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    listed = list(payments)
    sheet = _Sheet(book.create_sheet(_("Top-ups")[:_SHEET_NAME]))
    sheet.header(
        [_(PAYMENT_COLUMNS[code][0]) for code in CSV_COLUMNS],
        [PAYMENT_COLUMNS[code][1] for code in CSV_COLUMNS],
    )
    for p in listed:
        sheet.row([_payment_cell(value, tz, status_label) for value in export_row(p, names)])
    totals = _Sheet(book.create_sheet(_("Totals")[:_SHEET_NAME]))
    totals.header(
        [_("Cashier ID"), _("Cashier"), _("Status"), _("Count"), _("Amount, ₸")],
        [14, 24, 14, 10, 16],
    )
    summary = summarize(Totals(p.cashier_id, p.status, 1, p.amount) for p in listed)
    for cashier_id in sorted(summary.per_cashier):
        for status, tally in sorted(summary.per_cashier[cashier_id].items()):
            totals.row(
                [
                    cashier_id,
                    names.get(cashier_id, ""),
                    status_label(status),
                    tally.count,
                    tally.amount,
                ]
            )
    for status, tally in sorted(summary.overall.items()):
        totals.row([None, _("Total"), status_label(status), tally.count, tally.amount])
    _handover_sheet(
        _Sheet(book.create_sheet(_("Handovers")[:_SHEET_NAME])),
        handovers,
        names,
        tz,
        _,
        handover_label,
    )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _handover_sheet(
    sheet: _Sheet,
    handovers: Iterable[Handover],
    names: Mapping[int, str],
    tz: tzinfo,
    _: Gettext,
    label: Callable[[HandoverState], str],
) -> None:
    sheet.header(
        [
            _("No."),
            _("Declared"),
            _("Cashier ID"),
            _("Cashier"),
            _("State"),
            _("Expected, ₸"),
            _("Declared, ₸"),
            _("Received, ₸"),
            _("Difference, ₸"),
            _("Answered by"),
            _("Answered"),
            _("Written off by"),
            _("Written off"),
            _("Reason"),
        ],
        [8, 20, 14, 24, 14, 14, 14, 14, 14, 24, 20, 24, 20, 40],
    )
    for h in handovers:
        sheet.row(
            [
                h.id,
                _local(h.created_at, tz),
                h.cashier_id,
                names.get(h.cashier_id, ""),
                label(h.state),
                h.expected,
                h.declared,
                h.received,
                h.variance if h.received is not None else None,
                names.get(h.decided_by, str(h.decided_by)) if h.decided_by else "",
                _local(h.decided_at, tz),
                names.get(h.written_off_by, str(h.written_off_by)) if h.written_off_by else "",
                _local(h.written_off_at, tz),
                h.write_off_reason or "",
            ]
        )
