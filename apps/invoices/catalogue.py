"""Strings of the invoice card and the billing dialog, for the dashboard's and the widget's catalogues."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import pgettext


def _statuses(prefix: str) -> dict[str, str]:
    return {
        f"{prefix}draft": pgettext("invoice", "Draft"),
        f"{prefix}sent": pgettext("invoice", "Sent"),
        f"{prefix}paid": pgettext("invoice", "Paid"),
        f"{prefix}cancelled": pgettext("invoice", "Cancelled"),
        f"{prefix}expired": pgettext("invoice", "Expired"),
    }


def dashboard_strings() -> dict[str, str]:
    return {
        "invoice.title": _("Invoice %(number)s"),
        "invoice.total": _("Total"),
        "invoice.due": _("Due %(date)s"),
        "invoice.view": _("View invoice"),
        "invoice.cancel": _("Cancel invoice"),
        "invoice.cancel_confirm": _("Cancel invoice %(number)s? It cannot be paid afterwards."),
        "invoice.card_title": _("Invoices"),
        "invoice.bill": _("Bill the visitor"),
        "invoice.new": _("New invoice"),
        "invoice.description": _("Description"),
        "invoice.quantity": _("Qty"),
        "invoice.unit_price": _("Unit price"),
        "invoice.tax_rate": _("Tax, percent"),
        "invoice.add_line": _("Add a line"),
        "invoice.remove_line": _("Remove the line"),
        "invoice.currency": _("Currency"),
        "invoice.due_date": _("Due date"),
        "invoice.method": _("Payment method"),
        "invoice.preview": _("Preview"),
        "invoice.open_preview": _("Open the printable preview"),
        "invoice.edit": _("Edit"),
        "invoice.send": _("Send to the visitor"),
        "invoice.close": _("Close"),
        **_statuses("invoice.status."),
    }


def widget_strings() -> dict[str, str]:
    return {
        "invoice_title": _("Invoice %(number)s"),
        "invoice_total": _("Total"),
        "invoice_due": _("Due %(date)s"),
        "invoice_pay": _("Pay %(amount)s"),
        "invoice_view": _("View invoice"),
        "invoice_bank": _("Pay by bank transfer: the details are on the invoice."),
        "invoice_paid_thanks": _("Paid. Thank you!"),
        **_statuses("invoice_status_"),
    }
