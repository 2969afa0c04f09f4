"""The invoice as the chat card shows it: one payload for the visitor and the operators.

Amounts are strings (`"12.30"`), never floats; URLs carry the invoice's token, which is the
payer's capability for the printable page, the PDF and the Pay button.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.invoices.models import Invoice, InvoiceLine, Provider
from apps.invoices.money import format_amount, plain_number, round_money


def _amount(value, currency: str) -> str:
    return str(round_money(value, currency))


def invoice_payload(invoice: Invoice, lines: list[InvoiceLine] | None = None) -> dict[str, Any]:
    if lines is None:
        lines = list(InvoiceLine.objects.filter(tenant_id=invoice.tenant_id, invoice=invoice).order_by("position"))
    currency = invoice.currency
    payable = invoice.status == Invoice.Status.SENT
    return {
        "id": invoice.pk,
        "number": invoice.number_display,
        "status": invoice.status,
        "currency": currency,
        "subtotal": _amount(invoice.subtotal, currency),
        "tax_total": _amount(invoice.tax_total, currency),
        "total": _amount(invoice.total, currency),
        "total_display": format_amount(invoice.total, currency),
        "due_date": invoice.due_date.isoformat(),
        "provider": invoice.provider,
        "visitor": invoice.visitor_id,
        "lines": [
            {
                "description": line.description,
                "quantity": str(plain_number(line.quantity)),
                "unit_price": _amount(line.unit_price, currency),
                "tax_rate": str(plain_number(line.tax_rate)),
                "amount": _amount(line.gross, currency),
            }
            for line in lines
        ],
        "page_url": reverse("invoices:page", args=[invoice.token]),
        "pdf_url": reverse("invoices:pdf", args=[invoice.token]),
        # Pay opens the provider's page in a new tab (a form posted with target=_blank).
        "pay_url": reverse("invoices:pay", args=[invoice.token])
        if payable and invoice.provider != Provider.BANK_TRANSFER
        else "",
    }


def invoice_frame(invoice: Invoice) -> dict[str, Any]:
    return {"type": "invoice", "conversation": invoice.conversation_id, "invoice": invoice_payload(invoice)}
