"""Invoices in the admin: filters and totals, bank transfers confirmed by an admin, keys never shown back."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.invoices import keys
from apps.invoices.models import Invoice, InvoiceAudit, PaymentAccount
from tests import factories


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


def test_the_list_filters_by_status_and_shows_totals_per_currency(owner_client, tenant, other_tenant):
    with scopes_disabled():
        factories.InvoiceFactory(tenant=tenant, total=Decimal("10.50"), status="sent")
        factories.InvoiceFactory(tenant=tenant, total=Decimal("4.25"), status="sent")
        factories.InvoiceFactory(tenant=tenant, total=Decimal("100"), status="paid")
        factories.InvoiceFactory(tenant=tenant, total=Decimal("700"), currency="JPY", status="paid")
        factories.InvoiceFactory(tenant=other_tenant, total=Decimal("987654"), status="sent")
    url = reverse("admin:invoices_invoice_changelist")
    response = owner_client.get(url)
    assert response.status_code == 200
    totals = {(row["currency"], str(row["status"])): row for row in response.context["invoice_totals"]}
    assert totals[("EUR", "Sent")]["count"] == 2 and totals[("EUR", "Sent")]["amount"] == "14.75\u00a0EUR"
    assert totals[("JPY", "Paid")]["amount"] == "700\u00a0JPY"
    assert "987" not in str(response.context["invoice_totals"])
    filtered = owner_client.get(url, {"status__exact": "paid"})
    assert {row["currency"] for row in filtered.context["invoice_totals"]} == {"EUR", "JPY"}
    assert len(filtered.context["cl"].result_list) == 2
    assert owner_client.get(url, {"created_at__gte": "2020-01-01T00:00:00+00:00"}).status_code == 200


def test_an_admin_marks_a_bank_transfer_paid_from_the_list_and_it_is_audited(owner_client, owner, tenant):
    with scopes_disabled():
        invoice = factories.InvoiceFactory(tenant=tenant)
    response = owner_client.post(
        reverse("admin:invoices_invoice_changelist"), {"action": "mark_paid", "_selected_action": [invoice.pk]}
    )
    assert response.status_code == 302
    with scopes_disabled():
        invoice.refresh_from_db()
        entry = InvoiceAudit.objects.get(invoice=invoice)
        assert invoice.status == "paid" and entry.action == "marked_paid" and entry.actor == owner


def test_invoices_cannot_be_added_or_deleted_in_the_admin(owner_client, tenant):
    with scopes_disabled():
        invoice = factories.InvoiceFactory(tenant=tenant)
    assert owner_client.get(reverse("admin:invoices_invoice_add")).status_code == 403
    assert (
        owner_client.post(reverse("admin:invoices_invoice_delete", args=[invoice.pk]), {"post": "yes"}).status_code
        == 403
    )
    with scopes_disabled():
        assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_provider_keys_are_stored_encrypted_and_never_shown_back_in_full(owner_client, tenant):
    secret = "sk_test_51VerySecretKeyValue1234567890abcd"
    webhook_secret = "whsec_VerySecretSigningValue9876"
    response = owner_client.post(
        reverse("admin:invoices_paymentaccount_add"),
        {"provider": "stripe", "is_active": "on", "secret_key": secret, "webhook_secret": webhook_secret},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with scopes_disabled():
        account = PaymentAccount.objects.get(tenant=tenant)
    assert secret not in account.secret_key_encrypted and keys.decrypt(account.secret_key_encrypted) == secret
    assert keys.decrypt(account.webhook_secret_encrypted) == webhook_secret
    page = owner_client.get(reverse("admin:invoices_paymentaccount_change", args=[account.pk])).content.decode()
    assert secret not in page and webhook_secret not in page
    assert "sk_test_…abcd" in page and account.webhook_token in page
    # Saving without retyping keeps the stored keys.
    owner_client.post(
        reverse("admin:invoices_paymentaccount_change", args=[account.pk]),
        {"provider": "stripe", "is_active": "on", "secret_key": "", "webhook_secret": ""},
    )
    with scopes_disabled():
        account.refresh_from_db()
    assert keys.decrypt(account.secret_key_encrypted) == secret


def test_a_stripe_account_needs_its_keys(owner_client, tenant):
    response = owner_client.post(
        reverse("admin:invoices_paymentaccount_add"), {"provider": "stripe", "is_active": "on"}
    )
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) >= {"secret_key", "webhook_secret"}
    with scopes_disabled():
        assert not PaymentAccount.objects.filter(tenant=tenant).exists()


def test_a_key_encrypted_under_another_secret_reads_as_empty(settings):
    token = keys.encrypt("sk_test_x")
    settings.PARLEY_PAYMENT_KEYS_SECRET = "rotated"
    assert keys.decrypt(token) == ""
