"""Words printed on an invoice, shared by the printable page and the PDF (one translation each)."""

from django.utils.translation import gettext_lazy as _

INVOICE = _("Invoice")
SELLER = _("From")
BUYER = _("Bill to")
ISSUE_DATE = _("Issue date")
DUE_DATE = _("Due date")
TAX_ID = _("Tax id")
DESCRIPTION = _("Description")
QUANTITY = _("Qty")
UNIT_PRICE = _("Unit price")
TAX_RATE = _("Tax, %")
AMOUNT = _("Amount")
SUBTOTAL = _("Subtotal")
TAX = _("Tax")
TOTAL = _("Total")
PAYMENT = _("Payment")
BANK = _("Bank")
ACCOUNT = _("Account")
REFERENCE = _("Payment reference")
PAY_ONLINE = _("Pay online at")
PAID_ON = _("Paid on %(date)s")
STATUS_STAMPS = {
    "paid": _("Paid"),
    "cancelled": _("Cancelled"),
    "expired": _("Expired"),
    "draft": _("Draft"),
}
