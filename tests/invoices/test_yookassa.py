"""YooKassa: the real `yookassa` SDK against a loopback fake of its API. Notifications are
never trusted: the payment's status is fetched back from the (fake) API."""

import base64
import json

from django.urls import reverse
from django_scopes import scopes_disabled

from apps.invoices import services
from apps.invoices.models import Invoice, ProviderEvent
from tests.invoices.conftest import YOOKASSA_SECRET_KEY, YOOKASSA_SHOP_ID

RUB_LINES = [{"description": "Консультация", "quantity": "1", "unit_price": "1500.00", "tax_rate": "20"}]


def start(invoice):
    return services.payment_start(
        tenant=invoice.tenant, invoice=invoice, return_url="http://testserver/back", cancel_url="http://testserver/c"
    )


def notify(client, account, payment_id, event="payment.succeeded", **claimed):
    body = {"type": "notification", "event": event, "object": {"id": payment_id, "status": "succeeded", **claimed}}
    url = reverse("invoices:webhook", args=["yookassa", account.webhook_token])
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_a_payment_is_created_with_an_idempotence_key_and_a_confirmation_url(
    make_invoice, yookassa_api, yookassa_account
):
    invoice = make_invoice(provider="yookassa", currency="RUB", lines=RUB_LINES)
    attempt = start(invoice)
    [request] = yookassa_api.server.requests
    expected_auth = "Basic " + base64.b64encode(f"{YOOKASSA_SHOP_ID}:{YOOKASSA_SECRET_KEY}".encode()).decode()
    assert request.method == "POST" and request.path == "/v3/payments"
    assert request.headers["Authorization"] == expected_auth
    assert request.headers["Idempotence-Key"] == attempt.idempotency_key
    body = request.json()
    assert body["amount"] == {"value": "1800.00", "currency": "RUB"}
    assert body["capture"] is True
    assert body["confirmation"]["type"] == "redirect" and body["confirmation"]["return_url"] == "http://testserver/back"
    assert body["metadata"]["parley_invoice"] == str(invoice.pk)
    assert attempt.url.startswith("https://yoomoney.ru/checkout/")


def test_a_notification_claiming_success_changes_nothing_until_the_api_confirms(
    client, make_invoice, yookassa_api, yookassa_account, publish, layer
):
    invoice = make_invoice(provider="yookassa", currency="RUB", lines=RUB_LINES)
    attempt = start(invoice)
    # The notification says "succeeded"; the API says the payment is still pending.
    response = notify(client, yookassa_account, attempt.provider_reference, paid=True)
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    with scopes_disabled():
        assert Invoice.objects.get(pk=invoice.pk).status == "sent"
    assert [r.method for r in yookassa_api.server.requests][-1] == "GET"

    yookassa_api.set_status(attempt.provider_reference, "succeeded")
    with publish():
        response = notify(client, yookassa_account, attempt.provider_reference)
    assert response.json()["outcome"] == "applied"
    with scopes_disabled():
        invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.provider_reference == attempt.provider_reference
    assert [f["invoice"]["status"] for f in layer.frames(f"c{invoice.conversation_id}") if f["type"] == "invoice"] == [
        "paid"
    ]
    # The same notification again: stored once, nothing changes.
    replay = notify(client, yookassa_account, attempt.provider_reference)
    assert replay.json()["duplicate"] is True
    with scopes_disabled():
        assert ProviderEvent.objects.filter(outcome="applied").count() == 1


def test_a_notification_for_a_payment_the_api_does_not_know_is_refused(client, yookassa_api, yookassa_account):
    response = notify(client, yookassa_account, "2f0e2a38-000f-5000-9000-1b4c3a1d9f00")
    assert response.status_code == 400
    with scopes_disabled():
        assert ProviderEvent.objects.count() == 0


def test_a_malformed_notification_is_refused_without_calling_the_api(client, yookassa_api, yookassa_account):
    url = reverse("invoices:webhook", args=["yookassa", yookassa_account.webhook_token])
    for body in (
        "not json",
        json.dumps({"event": "payment.succeeded"}),
        json.dumps({"object": {"id": 5}, "event": "x"}),
    ):
        assert client.post(url, data=body, content_type="application/json").status_code == 400
    assert yookassa_api.server.requests == []


def test_a_canceled_payment_closes_the_attempt(client, make_invoice, yookassa_api, yookassa_account):
    invoice = make_invoice(provider="yookassa", currency="RUB", lines=RUB_LINES)
    attempt = start(invoice)
    yookassa_api.set_status(attempt.provider_reference, "canceled")
    assert notify(client, yookassa_account, attempt.provider_reference, event="payment.canceled").json()["outcome"] == (
        "applied"
    )
    with scopes_disabled():
        attempt.refresh_from_db()
        assert attempt.status == "failed"
        assert Invoice.objects.get(pk=invoice.pk).status == "sent"
