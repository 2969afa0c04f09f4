"""Stripe Checkout: the real `stripe` SDK against a loopback fake of its API, and webhooks
signed in the test with the SDK's own algorithm."""

import time

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.invoices import services
from apps.invoices.errors import PaymentUnavailable
from apps.invoices.models import Invoice, InvoiceAudit, PaymentAttempt, ProviderEvent
from tests.invoices.conftest import sign, stripe_event


def webhook_url(account):
    return reverse("invoices:webhook", args=["stripe", account.webhook_token])


def start(invoice):
    return services.payment_start(
        tenant=invoice.tenant, invoice=invoice, return_url="http://testserver/back", cancel_url="http://testserver/c"
    )


def session_for(stripe_api, attempt, **changes):
    return {**stripe_api.sessions[attempt.provider_reference], **changes}


def post_event(client, account, payload, signature):
    return client.post(
        webhook_url(account), data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def test_a_checkout_session_per_attempt_with_idempotency_key_metadata_and_expiry(
    make_invoice, stripe_api, stripe_account, tenant
):
    invoice = make_invoice(provider="stripe")
    attempt = start(invoice)
    [request] = stripe_api.server.requests
    form = request.form()
    assert request.headers["Idempotency-Key"] == attempt.idempotency_key
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][unit_amount]"] == "12193"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["metadata[parley_tenant]"] == str(tenant.pk)
    assert form["metadata[parley_invoice]"] == str(invoice.pk)
    assert form["payment_intent_data[metadata][parley_invoice]"] == str(invoice.pk)
    assert 1800 <= int(form["expires_at"]) - time.time() <= 86400
    assert "payment_method_types[0]" not in form  # Checkout offers the account's local methods (BLIK, P24)
    assert attempt.url.startswith("https://checkout.stripe.com/") and attempt.provider_reference.startswith("cs_test_")
    # An open session is offered again instead of a new one per click.
    assert start(invoice).pk == attempt.pk
    assert len(stripe_api.server.requests) == 1


def test_a_provider_error_is_payment_unavailable_and_the_attempt_failed(make_invoice, stripe_api, stripe_account):
    invoice = make_invoice(provider="stripe")
    stripe_api.fail_with = 500
    with pytest.raises(PaymentUnavailable):
        start(invoice)
    with scopes_disabled():
        assert list(PaymentAttempt.objects.values_list("status", flat=True)) == ["failed"]
        assert Invoice.objects.get(pk=invoice.pk).status == "sent"


def test_a_signed_completed_event_marks_the_invoice_paid_once(
    client, make_invoice, stripe_api, stripe_account, publish, layer
):
    invoice = make_invoice(provider="stripe")
    attempt = start(invoice)
    payload = stripe_event(
        "checkout.session.completed", session_for(stripe_api, attempt, payment_status="paid", status="complete")
    )
    with publish():
        response = post_event(client, stripe_account, payload, sign(payload))
    assert response.status_code == 200 and response.json()["outcome"] == "applied"
    with scopes_disabled():
        invoice.refresh_from_db()
        attempt.refresh_from_db()
        audit_count = InvoiceAudit.objects.filter(invoice=invoice).count()
    assert invoice.status == "paid" and invoice.provider_reference == attempt.provider_reference
    assert attempt.status == "succeeded"
    paid_frames = [f for f in layer.frames(f"c{invoice.conversation_id}") if f["type"] == "invoice"]
    assert [f["invoice"]["status"] for f in paid_frames] == ["paid"]

    # Replayed (same event id, freshly signed): stored once, nothing changes.
    layer.sent.clear()
    with publish():
        replay = post_event(client, stripe_account, payload, sign(payload))
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    with scopes_disabled():
        assert ProviderEvent.objects.count() == 1
        assert InvoiceAudit.objects.filter(invoice=invoice).count() == audit_count
    assert layer.sent == []


@pytest.mark.parametrize("how", ["tampered", "stale", "wrong_secret", "missing", "garbage"])
def test_an_unverified_event_is_refused_and_stores_nothing(client, make_invoice, stripe_api, stripe_account, how):
    invoice = make_invoice(provider="stripe")
    attempt = start(invoice)
    payload = stripe_event("checkout.session.completed", session_for(stripe_api, attempt, payment_status="paid"))
    signature = sign(payload)
    if how == "tampered":
        payload = payload.replace('"amount_total": 12193', '"amount_total": 1')
    elif how == "stale":
        signature = sign(payload, timestamp=int(time.time()) - 600)
    elif how == "wrong_secret":
        signature = sign(payload, "whsec_not_the_tenants_secret")
    elif how == "missing":
        signature = ""
    elif how == "garbage":
        signature = "t=abc,v1=zz"
    response = post_event(client, stripe_account, payload, signature)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_signature"
    with scopes_disabled():
        assert ProviderEvent.objects.count() == 0
        assert Invoice.objects.get(pk=invoice.pk).status == "sent"


def test_an_event_naming_another_tenants_invoice_does_nothing(
    client, make_invoice, stripe_api, stripe_account, other_tenant, other_stripe_account
):
    """Signed with tenant B's own secret at B's URL, but naming tenant A's invoice in metadata."""
    invoice = make_invoice(provider="stripe")
    attempt = start(invoice)
    payload = stripe_event("checkout.session.completed", session_for(stripe_api, attempt, payment_status="paid"))
    response = post_event(client, other_stripe_account, payload, sign(payload, "whsec_othertenantsecret000000000000"))
    assert response.status_code == 200 and response.json()["outcome"] == "not_found"
    # And tenant A's secret does not open tenant B's URL.
    assert post_event(client, other_stripe_account, payload, sign(payload)).status_code == 400
    with scopes_disabled():
        assert Invoice.objects.get(pk=invoice.pk).status == "sent"
        event = ProviderEvent.objects.get()
    assert event.tenant_id == other_tenant.pk and event.invoice_id is None


def test_an_unknown_webhook_url_is_404(client, stripe_account):
    assert (
        client.post(
            "/invoices/webhooks/stripe/nope-nope-nope-nope/", data="{}", content_type="application/json"
        ).status_code
        == 404
    )
    wrong_provider = reverse("invoices:webhook", args=["yookassa", stripe_account.webhook_token])
    assert client.post(wrong_provider, data="{}", content_type="application/json").status_code == 404


def test_a_delayed_method_is_paid_on_async_success_not_on_completion(client, make_invoice, stripe_api, stripe_account):
    invoice = make_invoice(provider="stripe")
    attempt = start(invoice)
    completed = stripe_event("checkout.session.completed", session_for(stripe_api, attempt, payment_status="unpaid"))
    assert post_event(client, stripe_account, completed, sign(completed)).json()["outcome"] == "ignored"
    with scopes_disabled():
        assert Invoice.objects.get(pk=invoice.pk).status == "sent"
    succeeded = stripe_event(
        "checkout.session.async_payment_succeeded", session_for(stripe_api, attempt, payment_status="paid")
    )
    assert post_event(client, stripe_account, succeeded, sign(succeeded)).json()["outcome"] == "applied"
    with scopes_disabled():
        assert Invoice.objects.get(pk=invoice.pk).status == "paid"


def test_failed_and_expired_sessions_close_the_attempt_and_leave_the_invoice_payable(
    client, make_invoice, stripe_api, stripe_account
):
    invoice = make_invoice(provider="stripe")
    first = start(invoice)
    failed = stripe_event("checkout.session.async_payment_failed", session_for(stripe_api, first))
    post_event(client, stripe_account, failed, sign(failed))
    with scopes_disabled():
        first.refresh_from_db()
        assert first.status == "failed"
    second = start(invoice)
    assert second.pk != first.pk
    expired = stripe_event("checkout.session.expired", session_for(stripe_api, second, status="expired"))
    post_event(client, stripe_account, expired, sign(expired))
    with scopes_disabled():
        second.refresh_from_db()
        assert second.status == "expired"
        assert Invoice.objects.get(pk=invoice.pk).status == "sent"


def test_a_payment_of_another_amount_is_recorded_not_applied(client, make_invoice, stripe_api, stripe_account):
    invoice = make_invoice(provider="stripe")
    attempt = start(invoice)
    payload = stripe_event(
        "checkout.session.completed", session_for(stripe_api, attempt, payment_status="paid", amount_total=100)
    )
    assert post_event(client, stripe_account, payload, sign(payload)).json()["outcome"] == "mismatch"
    with scopes_disabled():
        assert Invoice.objects.get(pk=invoice.pk).status == "sent"


def test_a_payment_for_a_cancelled_invoice_flags_a_refund(client, make_invoice, stripe_api, stripe_account, operator):
    invoice = make_invoice(provider="stripe")
    attempt = start(invoice)
    services.invoice_cancel(tenant=invoice.tenant, invoice=invoice, by=operator)
    payload = stripe_event("checkout.session.completed", session_for(stripe_api, attempt, payment_status="paid"))
    assert post_event(client, stripe_account, payload, sign(payload)).json()["outcome"] == "refund_due"
    with scopes_disabled():
        invoice.refresh_from_db()
    assert invoice.status == "cancelled" and invoice.refund_due
