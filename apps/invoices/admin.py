"""Invoices in the tenant's admin: the list with filters and totals, each invoice's history,
the invoicing details, and the payment accounts whose keys are stored encrypted and never
shown back in full.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import TenantModelAdmin, TenantTabularInline, acting_membership, is_platform_admin
from apps.invoices import keys, services
from apps.invoices.errors import ConversationError
from apps.invoices.models import (
    Invoice,
    InvoiceAudit,
    InvoiceLine,
    InvoiceSettings,
    PaymentAccount,
    PaymentAttempt,
    Provider,
    ProviderEvent,
)
from apps.invoices.money import format_amount


@admin.register(InvoiceSettings)
class InvoiceSettingsAdmin(TenantModelAdmin):
    list_display = ("__str__", "number_prefix", "last_number", "default_currency", "default_provider")
    readonly_fields = ("last_number",)
    fieldsets = (
        (_("Numbering"), {"fields": ("number_prefix", "last_number")}),
        (_("Legal details"), {"fields": ("legal_name", "address", "tax_id")}),
        (_("Bank"), {"fields": ("bank_name", "bank_account", "bank_details")}),
        (_("Defaults"), {"fields": ("default_currency", "default_provider", "payment_days")}),
    )
    tenant_admin_can_delete = False

    def has_add_permission(self, request, *args) -> bool:
        if not super().has_add_permission(request, *args):
            return False
        if is_platform_admin(request):
            return True
        tenant = getattr(request, "tenant", None)
        return tenant is not None and not InvoiceSettings.objects.filter(tenant=tenant).exists()


class PaymentAccountForm(forms.ModelForm):
    secret_key = forms.CharField(
        label=_("Secret key"),
        required=False,
        strip=True,
        max_length=300,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_(
            "Stripe: sk_live_… or sk_test_… (or a restricted key). YooKassa: the shop's secret key. "
            "Leave empty to keep the stored one."
        ),
    )
    webhook_secret = forms.CharField(
        label=_("Webhook signing secret"),
        required=False,
        strip=True,
        max_length=300,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Stripe: whsec_… from the webhook endpoint. Leave empty to keep the stored one."),
    )

    class Meta:
        model = PaymentAccount
        fields = ("provider", "is_active", "account_id", "instructions")

    def clean(self):
        cleaned = super().clean()
        provider = cleaned.get("provider")
        has_secret = bool(cleaned.get("secret_key") or (self.instance.pk and self.instance.secret_key_encrypted))
        if provider in (Provider.STRIPE, Provider.YOOKASSA) and not has_secret:
            self.add_error("secret_key", _("Enter the secret key."))
        if provider == Provider.YOOKASSA and not cleaned.get("account_id"):
            self.add_error("account_id", _("Enter the shop id."))
        if provider == Provider.STRIPE:
            has_webhook = bool(
                cleaned.get("webhook_secret") or (self.instance.pk and self.instance.webhook_secret_encrypted)
            )
            if not has_webhook:
                self.add_error("webhook_secret", _("Enter the webhook signing secret."))
        for name in ("secret_key", "webhook_secret"):
            value = cleaned.get(name) or ""
            if any(ch.isspace() for ch in value):
                self.add_error(name, _("A key has no spaces."))
        return cleaned


@admin.register(PaymentAccount)
class PaymentAccountAdmin(TenantModelAdmin):
    form = PaymentAccountForm
    list_display = ("provider", "is_active", "account_id", "secret_key_hint", "updated_at")
    readonly_fields = ("secret_key_hint", "webhook_secret_hint", "webhook_url")
    fieldsets = (
        (None, {"fields": ("provider", "is_active")}),
        (
            _("Keys"),
            {"fields": ("account_id", "secret_key", "secret_key_hint", "webhook_secret", "webhook_secret_hint")},
        ),
        (_("Webhook"), {"fields": ("webhook_url",)}),
        (_("Bank transfer"), {"fields": ("instructions",)}),
    )

    @admin.display(description=_("stored secret key"))
    def secret_key_hint(self, obj: PaymentAccount | None) -> str:
        value = keys.decrypt(obj.secret_key_encrypted) if obj is not None and obj.pk else ""
        return keys.masked(value) or "—"

    @admin.display(description=_("stored webhook secret"))
    def webhook_secret_hint(self, obj: PaymentAccount | None) -> str:
        value = keys.decrypt(obj.webhook_secret_encrypted) if obj is not None and obj.pk else ""
        return keys.masked(value) or "—"

    @admin.display(description=_("webhook URL"))
    def webhook_url(self, obj: PaymentAccount | None) -> str:
        if obj is None or not obj.pk or obj.provider == Provider.BANK_TRANSFER:
            return _("Save first; Stripe and YooKassa accounts get a URL to enter at the provider.")
        url = settings.PARLEY_BASE_URL + reverse("invoices:webhook", args=[obj.provider, obj.webhook_token])
        if obj.provider == Provider.STRIPE:
            hint = _(
                "Stripe dashboard, Developers, Webhooks: add this endpoint with the events "
                "checkout.session.completed, checkout.session.async_payment_succeeded, "
                "checkout.session.async_payment_failed and checkout.session.expired."
            )
        else:
            hint = _(
                "YooKassa, Integration, HTTP notifications: enter this URL "
                "and choose payment.succeeded and payment.canceled."
            )
        return format_html("<code>{}</code><br><span class='help'>{}</span>", url, hint)

    def save_model(self, request, obj, form, change):
        if form.cleaned_data.get("secret_key"):
            obj.secret_key_encrypted = keys.encrypt(form.cleaned_data["secret_key"])
        if form.cleaned_data.get("webhook_secret"):
            obj.webhook_secret_encrypted = keys.encrypt(form.cleaned_data["webhook_secret"])
        super().save_model(request, obj, form, change)


class ReadOnlyInline(TenantTabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ("position", "description", "quantity", "unit_price", "tax_rate", "net", "tax", "gross")
    readonly_fields = fields


class PaymentAttemptInline(ReadOnlyInline):
    model = PaymentAttempt
    fields = ("created_at", "provider", "provider_reference", "status", "expires_at")
    readonly_fields = fields


class InvoiceAuditInline(ReadOnlyInline):
    model = InvoiceAudit
    fields = ("at", "action", "actor", "note")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor__user")


@admin.register(Invoice)
class InvoiceAdmin(TenantModelAdmin):
    list_display = (
        "number_display",
        "buyer_name",
        "total_display",
        "status",
        "provider",
        "due_date",
        "created_at",
        "refund_due",
    )
    list_filter = (
        "status",
        "provider",
        ("created_at", admin.DateFieldListFilter),
        ("due_date", admin.DateFieldListFilter),
        "refund_due",
    )
    search_fields = ("number_display", "buyer_name", "buyer_email", "provider_reference")
    date_hierarchy = "created_at"
    list_select_related = ("visitor",)
    inlines = (InvoiceLineInline, PaymentAttemptInline, InvoiceAuditInline)
    actions = ("mark_paid", "cancel")
    fields = (
        "number_display",
        "status",
        "refund_due",
        "page_link",
        "buyer_name",
        "buyer_email",
        "visitor",
        "conversation",
        "currency",
        "subtotal",
        "tax_total",
        "total",
        "issue_date",
        "due_date",
        "provider",
        "provider_reference",
        "created_at",
        "sent_at",
        "paid_at",
        "cancelled_at",
    )
    readonly_fields = fields
    tenant_admin_can_add = False
    tenant_admin_can_delete = False
    change_list_template = "admin/invoices/invoice/change_list.html"

    def has_add_permission(self, request, *args) -> bool:
        return False  # invoices are issued from the chat

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a number once issued stays: cancel instead

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, obj: Invoice) -> str:
        return format_amount(obj.total, obj.currency)

    @admin.display(description=_("payer's page"))
    def page_link(self, obj: Invoice) -> str:
        url = reverse("invoices:page", args=[obj.token])
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, _("Open the invoice"))

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if hasattr(response, "context_data") else None
        if changelist is not None:
            rows = (
                changelist.queryset.order_by()
                .values("currency", "status")
                .annotate(amount=Sum("total"), count=Count("pk"))
                .order_by("currency", "status")
            )
            labels = dict(Invoice.Status.choices)
            response.context_data["invoice_totals"] = [
                {
                    "currency": row["currency"],
                    "status": labels.get(row["status"], row["status"]),
                    "count": row["count"],
                    "amount": format_amount(row["amount"], row["currency"]),
                }
                for row in rows
            ]
        return response

    def _run(self, request, queryset, action, done_message) -> None:
        done = 0
        for invoice in queryset:
            membership = acting_membership(request, invoice.tenant)
            if membership is None:
                self.message_user(request, _("Only a member of the invoice's company can do this."), messages.ERROR)
                return
            try:
                action(tenant=invoice.tenant, invoice=invoice, by=membership)
            except ConversationError as error:
                self.message_user(request, f"{invoice.number_display}: {error.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Mark paid (bank transfer received)"))
    def mark_paid(self, request, queryset):
        self._run(request, queryset, services.invoice_mark_paid, _("%(count)s invoice(s) marked paid."))

    @admin.action(description=_("Cancel"))
    def cancel(self, request, queryset):
        self._run(request, queryset, services.invoice_cancel, _("%(count)s invoice(s) cancelled."))


@admin.register(ProviderEvent)
class ProviderEventAdmin(TenantModelAdmin):
    list_display = ("received_at", "provider", "event_type", "event_id", "invoice", "outcome")
    list_filter = ("provider", "outcome", "event_type")
    search_fields = ("event_id",)
    fields = ("received_at", "provider", "event_type", "event_id", "invoice", "outcome", "payload")
    readonly_fields = fields
    tenant_admin_can_add = False
    tenant_admin_can_change = False
    tenant_admin_can_delete = False

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
