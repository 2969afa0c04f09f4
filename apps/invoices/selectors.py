"""Reads of invoices shared by views, the dashboard and the admin."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django_scopes import scopes_disabled

from apps.accounts.models import Tenant
from apps.conversations.models import Visitor
from apps.invoices.errors import NotFound
from apps.invoices.models import Invoice, InvoiceLine, PaymentAccount, Provider


def invoice_by_token(token: str, *, membership=None) -> Invoice:
    """The invoice a payer's link names; a draft only for an operator of its tenant. Else Http404."""
    if not isinstance(token, str) or not (20 <= len(token) <= 64):
        raise Http404()
    with scopes_disabled():
        invoice = Invoice.objects.select_related("tenant").filter(token=token, tenant__is_active=True).first()
    if invoice is None:
        raise Http404()
    if invoice.status == Invoice.Status.DRAFT and (membership is None or membership.tenant_id != invoice.tenant_id):
        raise Http404()
    return invoice


def invoice_lines(invoice: Invoice) -> list[InvoiceLine]:
    return list(InvoiceLine.objects.filter(tenant_id=invoice.tenant_id, invoice=invoice).order_by("position"))


def bank_instructions(invoice: Invoice) -> str:
    account = PaymentAccount.objects.filter(tenant_id=invoice.tenant_id, provider=invoice.provider).first()
    return account.instructions if account is not None else ""


def invoices_for_visitor(*, tenant: Tenant, visitor: Visitor, limit: int = 20) -> list[Invoice]:
    """A visitor's issued invoices, newest first (the dashboard's visitor card)."""
    return list(
        Invoice.objects.filter(tenant=tenant, visitor=visitor)
        .exclude(status=Invoice.Status.DRAFT)
        .order_by("-created_at")[:limit]
    )


def webhook_account(*, provider: str, webhook_token: str) -> PaymentAccount | None:
    """The payment account a webhook URL names (its token picks the tenant), active tenants only."""
    if not isinstance(webhook_token, str) or not (10 <= len(webhook_token) <= 40):
        return None
    with scopes_disabled():
        return (
            PaymentAccount.objects.select_related("tenant")
            .filter(provider=provider, webhook_token=webhook_token, is_active=True, tenant__is_active=True)
            .first()
        )


def invoice_for_operator(*, tenant: Tenant, invoice_id: Any) -> Invoice:
    """An invoice of the operator's tenant; another tenant's or a missing id is the same NotFound."""
    if isinstance(invoice_id, bool) or not isinstance(invoice_id, int | str) or not str(invoice_id).isdigit():
        raise NotFound()
    invoice = Invoice.objects.filter(tenant=tenant, pk=int(invoice_id)).first()
    if invoice is None:
        raise NotFound()
    return invoice


def invoice_options(*, tenant: Tenant) -> dict[str, Any]:
    """What the operator's invoice form offers: currencies, the tenant's payment methods, defaults."""
    from apps.invoices.money import MINOR_UNITS
    from apps.invoices.services import invoice_settings_for

    invoice_settings = invoice_settings_for(tenant=tenant)
    active = set(PaymentAccount.objects.filter(tenant=tenant, is_active=True).values_list("provider", flat=True))
    providers = [
        {"value": value, "label": str(label)}
        for value, label in Provider.choices
        if value == Provider.BANK_TRANSFER or value in active
    ]
    return {
        "currencies": [{"code": code, "places": places} for code, places in sorted(MINOR_UNITS.items())],
        "providers": providers,
        "default_currency": invoice_settings.default_currency,
        "default_provider": invoice_settings.default_provider
        if any(p["value"] == invoice_settings.default_provider for p in providers)
        else Provider.BANK_TRANSFER,
        "default_due_days": invoice_settings.payment_days,
    }
