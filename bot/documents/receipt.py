"""The receipt of a completed top-up: its fields (shared by the chat text and the PDF), and
the PDF a cashier forwards to the client, with a QR code of the GUID.

fpdf2 (with fontTools, ~30 MB) and segno load at the first PDF, not with the bot: the chat
text needs only :func:`fields`."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from bot.domain.parsing import format_login, format_tenge
from bot.domain.receipts import EXAMPLE_BIN, Receipt

Gettext = Callable[[str], str]

FONTS = Path(__file__).resolve().parent / "fonts"
_FAMILY = "DejaVu"


@dataclass(frozen=True, slots=True)
class Field:
    label: str
    value: str
    code: bool = False  # an identifier: shown whole on its own line (and as <code> in chat)


def title(receipt: Receipt, _: Gettext) -> str:
    return _("Receipt No. {number}").format(number=receipt.number)


def fields(receipt: Receipt, tz: tzinfo, _: Gettext) -> list[Field]:
    """Everything a receipt says, in order, as plain text in the reader's language."""
    parties = receipt.parties
    payment = receipt.payment
    example = _("(example)")
    return [
        Field(_("Issuer"), parties.issuer_name or f"Allpay {example}"),
        Field(_("Issuer's BIN"), parties.issuer_bin or f"{EXAMPLE_BIN} {example}"),
        Field(_("Agent"), parties.agent_name or f"{_('Agent')} {example}"),
        Field(_("Agent's BIN"), parties.agent_bin or f"{EXAMPLE_BIN} {example}"),
        Field(_("Cashier"), receipt.cashier),
        Field(_("Date and time"), receipt.when.astimezone(tz).strftime("%d.%m.%Y %H:%M:%S")),
        Field(_("Cash accepted"), format_tenge(receipt.cash)),
        Field(_("Fee"), format_tenge(payment.fee)),
        Field(_("E-money credited"), format_tenge(payment.amount)),
        Field(_("Wallet"), format_login(payment.login)),
        Field(_("Transaction (GUID)"), payment.guid, code=True),
    ]


def filename(receipt: Receipt) -> str:
    return f"receipt-{receipt.number}.pdf"


def qr_png(text: str) -> bytes:
    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


def render_pdf(receipt: Receipt, tz: tzinfo, _: Gettext) -> bytes:
    """A one-page PDF (105 × 210 mm: room for legal names at their longest, 120 characters,
    in Kazakh) the client can keep: the fonts are embedded (subset),
    so every Kazakh letter and ₸ prints on any device; the same receipt gives the same bytes."""
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format=(105, 210))
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(8, 8, 8)
    pdf.add_font(_FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(_FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_creation_date(receipt.when)
    pdf.set_title(title(receipt, _))
    pdf.set_creator("allpay-cashin-bot")
    pdf.add_page()
    width = pdf.epw

    pdf.set_font(_FAMILY, "B", 13)
    pdf.multi_cell(width, 7, title(receipt, _), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FAMILY, "", 10)
    pdf.multi_cell(width, 5, _("Allpay wallet top-up"), align="C", new_x="LMARGIN", new_y="NEXT")
    if receipt.sandbox:
        pdf.set_font(_FAMILY, "B", 11)
        pdf.multi_cell(
            width, 6, _("SANDBOX — no real money"), align="C", new_x="LMARGIN", new_y="NEXT"
        )
    if receipt.example:
        pdf.set_font(_FAMILY, "B", 8)
        pdf.multi_cell(
            width,
            4,
            _("Example values: the sandbox, not a real top-up."),
            align="C",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(3)
    label_width = 36
    for field in fields(receipt, tz, _):
        pdf.set_font(_FAMILY, "", 8)
        if field.code or pdf.get_string_width(field.label) > label_width - 2:
            pdf.multi_cell(width, 4.5, field.label, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(_FAMILY, "B", 8 if field.code else 9)
            pdf.multi_cell(width, 4.5, field.value, new_x="LMARGIN", new_y="NEXT")
            continue
        pdf.cell(label_width, 5, field.label)
        pdf.set_font(_FAMILY, "B", 9)
        pdf.multi_cell(width - label_width, 5, field.value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(_FAMILY, "B", 10)
    pdf.multi_cell(width, 6, _("Status: completed."), align="C", new_x="LMARGIN", new_y="NEXT")
    side = 40
    pdf.image(io.BytesIO(qr_png(receipt.payment.guid)), x=(pdf.w - side) / 2, y=pdf.y + 2, w=side)
    pdf.set_y(pdf.y + side + 3)
    pdf.set_font(_FAMILY, "", 7)
    pdf.multi_cell(
        width, 4, _("The QR code holds the transaction's GUID."), align="C", new_x="LMARGIN"
    )
    return bytes(pdf.output())
