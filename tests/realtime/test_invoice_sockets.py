"""The invoice card over both sockets: sent, then paid by a signed Stripe webhook, live on each side."""

from __future__ import annotations

import json
import time

import pytest
import stripe
from channels.db import database_sync_to_async
from django.test import Client
from django_scopes import scopes_disabled

from apps.conversations.models import Conversation
from apps.invoices import keys, services
from apps.invoices.models import PaymentAccount
from tests import factories

SECRET = "whsec_socketsecret000000000000000000"


@pytest.fixture
def visitor(tenant):
    with scopes_disabled():
        return factories.VisitorFactory(tenant=tenant, name="Ann")


@pytest.fixture
def operator(tenant):
    with scopes_disabled():
        return factories.MembershipFactory(tenant=tenant, role="owner", user__email="op@acme.test")


@database_sync_to_async
def bill(tenant, operator, conversation_id):
    with scopes_disabled():
        account = PaymentAccount.objects.create(
            tenant=tenant,
            provider="stripe",
            secret_key_encrypted=keys.encrypt("sk_test_socket"),
            webhook_secret_encrypted=keys.encrypt(SECRET),
        )
        conversation = Conversation.objects.get(pk=conversation_id)
    invoice = services.invoice_create(
        tenant=tenant,
        conversation=conversation,
        created_by=operator,
        lines=[{"description": "Boots", "unit_price": "100", "tax_rate": "20"}],
        currency="EUR",
        provider="stripe",
    )
    return services.invoice_send(tenant=tenant, invoice=invoice, by=operator), account


@database_sync_to_async
def pay(tenant, invoice, account):
    session = {
        "id": "cs_test_socket",
        "object": "checkout.session",
        "payment_status": "paid",
        "amount_total": 12000,
        "currency": "eur",
        "metadata": {"parley_tenant": str(tenant.pk), "parley_invoice": str(invoice.pk)},
    }
    payload = json.dumps(
        {
            "id": "evt_socket_1",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {"object": session},
        }
    )
    signature = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    response = Client().post(
        f"/invoices/webhooks/stripe/{account.webhook_token}/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )
    return response.status_code, response.json()


async def test_the_card_turns_paid_on_the_visitors_and_the_operators_socket(
    tenant, operator, visitor_socket, operator_socket
):
    await visitor_socket.send({"type": "send", "client_id": "v1", "body": "An invoice, please"})
    ack = await visitor_socket.recv_type("ack")
    conversation_id = ack["conversation"]
    await operator_socket.recv_type("list")
    await operator_socket.watch(conversation_id)  # the operator opens the chat to bill it

    invoice, account = await bill(tenant, operator, conversation_id)
    for socket in (visitor_socket, operator_socket):
        card = await socket.recv_type("message")
        assert card["message"]["kind"] == "invoice"
        assert card["message"]["data"]["invoice"]["status"] == "sent"
        assert (await socket.recv_type("invoice"))["invoice"]["status"] == "sent"

    status, answer = await pay(tenant, invoice, account)
    assert (status, answer["outcome"]) == (200, "applied")
    for socket in (visitor_socket, operator_socket):
        frame = await socket.recv_type("invoice")
        assert frame["conversation"] == conversation_id
        assert frame["invoice"]["id"] == invoice.pk and frame["invoice"]["status"] == "paid"
        assert frame["invoice"]["pay_url"] == ""
