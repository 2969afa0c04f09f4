"""Words printed on an invoice, shared by the printable page and the PDF (one translation each)."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

INVOICE = _("Invoice")
SELLER = _("From")
BUYER = _("Bill to")
ISSUE_DATE = _("Issue date")
DUE_DATE = _("Due date")
TAX_ID = _("Tax id")
DESCRIPTION = _("Description")
QUANTITY = _("Qty")
UNIT_PRICE = _("Unit price")
TAX_RATE = _("Tax rate")
AMOUNT = _("Amount")
SUBTOTAL = _("Subtotal")
TAX = _("Tax")
TOTAL = _("Total")
PAYMENT = _("Payment")
BANK = _("Bank")
ACCOUNT = pgettext_lazy("bank", "Account")
REFERENCE = _("Payment reference")
PAY_ONLINE = _("Pay online at")
PAID_ON = _("Paid on %(date)s")
STATUS_STAMPS = {
    "paid": pgettext_lazy("invoice", "Paid"),
    "cancelled": pgettext_lazy("invoice", "Cancelled"),
    "expired": pgettext_lazy("invoice", "Expired"),
    "draft": pgettext_lazy("invoice", "Draft"),
}
