"""The invoice as a PDF (fpdf2, pure Python; DejaVu Sans, committed in fonts/, covers Cyrillic and Polish)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.urls import reverse
from django.utils import formats, translation
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from apps.invoices import labels
from apps.invoices.models import Invoice, Provider
from apps.invoices.money import format_amount, plain_number
from apps.invoices.selectors import bank_instructions, invoice_lines

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
MUTED = (93, 101, 121)
TEXT = (27, 31, 42)
LINE = (223, 227, 238)


def _date(value) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT") if value else ""


def _quantity(value) -> str:
    return formats.number_format(plain_number(value), use_l10n=True)


class _InvoicePDF(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4", unit="mm")
        self.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)

    def label(self, text: str) -> None:
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, str(text).upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*TEXT)

    def paragraph(self, text: str, *, size: float = 10, bold: bool = False, width: float = 0) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.multi_cell(width, 5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def invoice_pdf_bytes(invoice: Invoice, *, language: str) -> bytes:
    """Render the invoice in `language`; call inside the invoice's tenant scope."""
    with translation.override(language):
        return _render(invoice)


def _render(invoice: Invoice) -> bytes:
    seller = invoice.seller or {}
    currency = invoice.currency
    pdf = _InvoicePDF()
    pdf.set_title(f"{labels.INVOICE} {invoice.number_display}")
    pdf.set_author(seller.get("legal_name") or seller.get("name") or "")
    pdf.set_creator("Parley")
    pdf.add_page()
    pdf.set_text_color(*TEXT)

    # Title and status stamp.
    pdf.set_font(FONT, "B", 20)
    pdf.cell(120, 10, f"{labels.INVOICE} {invoice.number_display}")
    stamp = labels.STATUS_STAMPS.get(invoice.status)
    if stamp:
        pdf.set_font(FONT, "B", 14)
        pdf.set_text_color(*((21, 128, 61) if invoice.status == Invoice.Status.PAID else (194, 65, 12)))
        pdf.cell(0, 10, str(stamp).upper(), align="R")
        pdf.set_text_color(*TEXT)
    pdf.ln(14)

    # Seller and buyer side by side.
    top = pdf.get_y()
    column = (pdf.w - pdf.l_margin - pdf.r_margin) / 2 - 4
    pdf.label(labels.SELLER)
    seller_lines = [seller.get("legal_name") or seller.get("name") or "", seller.get("address") or ""]
    if seller.get("tax_id"):
        seller_lines.append(f"{labels.TAX_ID}: {seller['tax_id']}")
    pdf.paragraph("\n".join(line for line in seller_lines if line), width=column)
    seller_bottom = pdf.get_y()
    right = pdf.l_margin + column + 8
    pdf.set_xy(right, top)
    pdf.set_font(FONT, "", 8)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 5, str(labels.BUYER).upper(), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_text_color(*TEXT)
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(column, 5, invoice.buyer_name or "—", align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(right, pdf.get_y() + 2)
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(
        column,
        5,
        align="L",
        text=f"{labels.ISSUE_DATE}: {_date(invoice.issue_date)}\n{labels.DUE_DATE}: {_date(invoice.due_date)}",
        new_x=XPos.LEFT,
        new_y=YPos.NEXT,
    )
    if invoice.status == Invoice.Status.PAID and invoice.paid_at:
        pdf.set_x(right)
        pdf.multi_cell(column, 5, str(labels.PAID_ON) % {"date": _date(invoice.paid_at.date())}, align="L")
    pdf.set_xy(pdf.l_margin, max(seller_bottom, pdf.get_y()) + 8)

    # Lines.
    pdf.set_font(FONT, "", 9)
    pdf.set_draw_color(*LINE)
    with pdf.table(
        col_widths=(8, 72, 16, 28, 16, 34),
        text_align=("RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=6,
        borders_layout="HORIZONTAL_LINES",
        headings_style=FontFace(emphasis="BOLD", color=MUTED),
    ) as table:
        heading = table.row()
        for text in ("#", labels.DESCRIPTION, labels.QUANTITY, labels.UNIT_PRICE, labels.TAX_RATE, labels.AMOUNT):
            heading.cell(str(text))
        for line in invoice_lines(invoice):
            row = table.row()
            row.cell(str(line.position))
            row.cell(line.description)
            row.cell(_quantity(line.quantity))
            row.cell(format_amount(line.unit_price, currency))
            row.cell(f"{_quantity(line.tax_rate)}%")
            row.cell(format_amount(line.gross, currency))
    pdf.ln(4)

    # Totals, right-aligned.
    for text, amount, bold in (
        (labels.SUBTOTAL, invoice.subtotal, False),
        (labels.TAX, invoice.tax_total, False),
        (labels.TOTAL, invoice.total, True),
    ):
        pdf.set_font(FONT, "B" if bold else "", 12 if bold else 10)
        pdf.cell(pdf.w - pdf.l_margin - pdf.r_margin - 45, 7, str(text), align="R")
        pdf.cell(45, 7, format_amount(amount, currency), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)

    # How to pay.
    pdf.label(labels.PAYMENT)
    if invoice.provider == Provider.BANK_TRANSFER:
        details = [
            f"{labels.BANK}: {seller['bank_name']}" if seller.get("bank_name") else "",
            f"{labels.ACCOUNT}: {seller['bank_account']}" if seller.get("bank_account") else "",
            seller.get("bank_details") or "",
            f"{labels.REFERENCE}: {invoice.number_display}",
            bank_instructions(invoice),
        ]
        pdf.paragraph("\n".join(d for d in details if d))
    else:
        url = settings.PARLEY_BASE_URL + reverse("invoices:page", args=[invoice.token])
        pdf.paragraph(f"{labels.PAY_ONLINE}: {url}", size=9)
    return bytes(pdf.output())
