"""Invoices, their lines, the tenant's invoicing details, payment provider accounts and events.

Invariants:
- `Invoice.number` is 1, 2, 3, ... per tenant with no gaps or duplicates: it is taken from
  `InvoiceSettings.last_number` while that row is locked, in the transaction that inserts the
  invoice (services only). Invoices are never deleted; a mistaken one is cancelled and keeps
  its number.
- Amounts are `Decimal` rounded to the invoice currency's minor unit (`money.round_money`);
  `subtotal + tax_total == total`, and each equals the sum of its lines.
- `status` changes only through `services` along `TRANSITIONS`: a paid invoice is never
  cancelled and a cancelled one is never paid.
- A `ProviderEvent` is stored once per `(tenant, provider, event_id)`: a replayed webhook finds
  its row and changes nothing.
"""

from __future__ import annotations

import secrets

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.core.models import TenantOwned
from apps.invoices.money import CURRENCY_CHOICES, minor_units

AMOUNT = {"max_digits": 14, "decimal_places": 3}


def new_invoice_token() -> str:
    return secrets.token_urlsafe(24)


def new_webhook_token() -> str:
    return secrets.token_urlsafe(18)


class Provider(models.TextChoices):
    STRIPE = "stripe", _("Stripe Checkout")
    YOOKASSA = "yookassa", _("YooKassa")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")


class InvoiceSettings(TenantOwned):
    """The tenant's legal details as printed on its invoices, and its invoice number sequence."""

    number_prefix = models.CharField(
        _("number prefix"),
        max_length=20,
        blank=True,
        default="INV-",
        validators=[RegexValidator(r"^[A-Za-z0-9/_.\-]*$", _("Use letters, digits and - _ / . only."))],
        help_text=_("Printed before the number, e.g. INV-2026-."),
    )
    # The last number handed out; locked and incremented by the service that creates an invoice.
    last_number = models.PositiveIntegerField(_("last number issued"), default=0, editable=False)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    address = models.TextField(_("address"), max_length=1000, blank=True)
    tax_id = models.CharField(_("tax id"), max_length=60, blank=True, help_text=_("VAT number, NIP, INN..."))
    bank_name = models.CharField(_("bank"), max_length=200, blank=True)
    bank_account = models.CharField(
        _("bank account"), max_length=80, blank=True, help_text=_("IBAN or account number.")
    )
    bank_details = models.TextField(
        _("other bank details"), max_length=1000, blank=True, help_text=_("SWIFT/BIC, BIK, correspondent account...")
    )
    default_currency = models.CharField(_("default currency"), max_length=3, choices=CURRENCY_CHOICES, default="EUR")
    default_provider = models.CharField(
        _("default payment method"), max_length=20, choices=Provider.choices, default=Provider.BANK_TRANSFER
    )
    payment_days = models.PositiveSmallIntegerField(_("days to pay"), default=14)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("invoicing details")
        verbose_name_plural = _("invoicing details")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="invoicesettings_one_per_tenant")]

    def __str__(self) -> str:
        return self.legal_name or str(_("Invoicing details"))

    def seller_snapshot(self) -> dict:
        """What the invoice prints about the seller, frozen when it is issued."""
        return {
            "legal_name": self.legal_name,
            "address": self.address,
            "tax_id": self.tax_id,
            "bank_name": self.bank_name,
            "bank_account": self.bank_account,
            "bank_details": self.bank_details,
        }


class PaymentAccount(TenantOwned):
    """A tenant's account at one payment provider. Secrets are stored encrypted (`apps.invoices.keys`)."""

    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    is_active = models.BooleanField(_("active"), default=True)
    # Public identifiers: YooKassa's shop id; Stripe needs none.
    account_id = models.CharField(_("account id"), max_length=100, blank=True, help_text=_("YooKassa shop id."))
    secret_key_encrypted = models.TextField(blank=True, editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    # The unguessable part of this account's webhook URL: it tells which tenant an event is for.
    webhook_token = models.CharField(max_length=40, unique=True, default=new_webhook_token, editable=False)
    instructions = models.TextField(
        _("payment instructions"),
        max_length=2000,
        blank=True,
        help_text=_("Bank transfer: shown to the payer with the bank details; the invoice number is the reference."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("payment account")
        verbose_name_plural = _("payment accounts")
        ordering = ["provider"]
        constraints = [models.UniqueConstraint(fields=["tenant", "provider"], name="paymentaccount_one_per_provider")]

    def __str__(self) -> str:
        return self.get_provider_display()


class Invoice(TenantOwned):
    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("invoice", "Draft")
        SENT = "sent", pgettext_lazy("invoice", "Sent")
        PAID = "paid", pgettext_lazy("invoice", "Paid")
        CANCELLED = "cancelled", pgettext_lazy("invoice", "Cancelled")
        EXPIRED = "expired", pgettext_lazy("invoice", "Expired")

    number = models.PositiveIntegerField(_("number"), editable=False)
    number_display = models.CharField(_("invoice number"), max_length=40, editable=False)
    # The capability in the payer's links (printable page, PDF, pay): long, random, never an id.
    token = models.CharField(max_length=64, unique=True, default=new_invoice_token, editable=False)
    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invoices",
        verbose_name=_("conversation"),
    )
    visitor = models.ForeignKey(
        "conversations.Visitor",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invoices",
        verbose_name=_("visitor"),
    )
    # The card in the chat (a message of kind "invoice"), once the invoice is sent.
    message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_by = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    buyer_name = models.CharField(_("bill to"), max_length=200, blank=True)
    buyer_email = models.EmailField(_("buyer email"), blank=True)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    language = models.CharField(_("language"), max_length=8, default="en")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    provider = models.CharField(_("payment method"), max_length=20, choices=Provider.choices)
    provider_reference = models.CharField(_("provider reference"), max_length=200, blank=True)
    subtotal = models.DecimalField(_("subtotal"), **AMOUNT, default=0)
    tax_total = models.DecimalField(_("tax"), **AMOUNT, default=0)
    total = models.DecimalField(_("total"), **AMOUNT, default=0)
    seller = models.JSONField(_("seller details"), default=dict, editable=False)
    issue_date = models.DateField(_("issue date"), default=timezone.localdate)
    due_date = models.DateField(_("due date"))
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True, editable=False)
    # A payment confirmed after the invoice was cancelled: the money must go back.
    refund_due = models.BooleanField(_("refund due"), default=False, editable=False)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="invoice_unique_number_per_tenant"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-created_at"], name="invoice_by_status"),
            models.Index(fields=["visitor", "-created_at"], name="invoice_by_visitor"),
        ]

    def __str__(self) -> str:
        return self.number_display

    @property
    def places(self) -> int:
        return minor_units(self.currency)

    @property
    def is_payable(self) -> bool:
        return self.status in (self.Status.SENT, self.Status.EXPIRED)


class InvoiceLine(TenantOwned):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(_("position"))
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(_("unit price"), **AMOUNT)
    tax_rate = models.DecimalField(_("tax rate, %"), max_digits=5, decimal_places=2, default=0)
    net = models.DecimalField(_("net"), **AMOUNT)
    tax = models.DecimalField(_("tax"), **AMOUNT)
    gross = models.DecimalField(_("amount"), **AMOUNT)

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="invoiceline_unique_position")]

    def __str__(self) -> str:
        return self.description


class PaymentAttempt(TenantOwned):
    """One try to pay an invoice at a provider: a Stripe Checkout Session or a YooKassa payment."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="attempts")
    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    idempotency_key = models.CharField(max_length=80, unique=True)
    provider_reference = models.CharField(_("provider reference"), max_length=200, blank=True)
    url = models.URLField(_("payment page"), max_length=2000, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment attempt")
        verbose_name_plural = _("payment attempts")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["provider", "provider_reference"], name="attempt_by_reference")]

    def __str__(self) -> str:
        return self.provider_reference or self.idempotency_key


class ProviderEvent(TenantOwned):
    """A provider's event (webhook or notification) as received, once per id."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", _("Applied")
        IGNORED = "ignored", _("Ignored")
        NOT_FOUND = "not_found", _("No such invoice")
        REFUND_DUE = "refund_due", _("Paid after cancellation: refund")
        MISMATCH = "mismatch", _("Amount or currency differs")

    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    event_id = models.CharField(_("event id"), max_length=200)
    event_type = models.CharField(_("event type"), max_length=100)
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    payload = models.JSONField(_("payload"), default=dict)
    received_at = models.DateTimeField(_("received"), default=timezone.now)

    class Meta:
        verbose_name = _("provider event")
        verbose_name_plural = _("provider events")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider", "event_id"], name="providerevent_once_per_id"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"


class InvoiceAudit(TenantOwned):
    """Who did what to an invoice, and when: every status change, by a person or a provider event."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="audit")
    action = models.CharField(_("action"), max_length=32)
    actor = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("by")
    )
    event = models.ForeignKey(ProviderEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(_("note"), max_length=500, blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("invoice history entry")
        verbose_name_plural = _("invoice history")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return self.action
