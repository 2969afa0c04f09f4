"""The dashboard's invoice endpoints: bill from the chat, preview, send, cancel, the visitor's list."""

import json

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from apps.conversations.models import Message
from apps.invoices.models import Invoice


@pytest.fixture
def op_client(operator):
    client = Client()
    client.force_login(operator.user)
    return client


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


LINES = [
    {"description": "Consulting", "quantity": "2", "unit_price": "45.50", "tax_rate": "23"},
    {"description": "Setup", "quantity": "1", "unit_price": "10"},
]


def test_an_operator_bills_previews_and_sends_from_the_chat(op_client, conversation, publish, layer):
    options = op_client.get("/app/api/invoices/options").json()
    assert {"code": "JPY", "places": 0} in options["currencies"]
    assert [p["value"] for p in options["providers"]] == ["bank_transfer"]

    created = post(
        op_client, "/app/api/invoices/", {"conversation": conversation.pk, "lines": LINES, "currency": "EUR"}
    )
    assert created.status_code == 201
    draft = created.json()["invoice"]
    assert draft["status"] == "draft" and draft["total"] == "121.93" and draft["number"] == "INV-1"
    # The operator's preview: the printable page of the draft.
    assert op_client.get(draft["page_url"]).status_code == 200
    with scopes_disabled():
        assert not Message.objects.filter(conversation=conversation).exists()

    with publish():
        sent = post(op_client, f"/app/api/invoices/{draft['id']}/send")
    assert sent.status_code == 200 and sent.json()["invoice"]["status"] == "sent"
    with scopes_disabled():
        card = Message.objects.get(conversation=conversation)
    assert card.kind == "invoice" and card.data["invoice"]["id"] == draft["id"]
    assert {f["type"] for f in layer.frames(f"c{conversation.pk}")} == {"message", "invoice"}

    listed = op_client.get(f"/app/api/invoices/?visitor={conversation.visitor_id}").json()["invoices"]
    assert [i["id"] for i in listed] == [draft["id"]]

    cancelled = post(op_client, f"/app/api/invoices/{draft['id']}/cancel")
    assert cancelled.json()["invoice"]["status"] == "cancelled"
    again = post(op_client, f"/app/api/invoices/{draft['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_status"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": []}, "lines"),
        ({"lines": [{"description": "<script>x</script>", "unit_price": "abc"}]}, "lines.0.unit_price"),
        ({"lines": LINES, "currency": "XXX"}, "currency"),
        ({"lines": LINES, "due_date": "yesterday"}, "due_date"),
        ({"lines": LINES, "provider": "stripe"}, "provider"),
        ({"lines": [{"description": "x" * 301, "unit_price": "1"}]}, "lines.0.description"),
    ],
)
def test_bad_input_is_a_clear_error_and_creates_nothing(op_client, conversation, body, field):
    response = post(op_client, "/app/api/invoices/", {"conversation": conversation.pk, **body})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    with scopes_disabled():
        assert not Invoice.objects.exists()


def test_a_description_is_stored_as_text_never_as_html(op_client, conversation, client):
    post(
        op_client,
        "/app/api/invoices/",
        {
            "conversation": conversation.pk,
            "lines": [{"description": "<img src=x onerror=alert(1)>", "unit_price": "1"}],
        },
    )
    with scopes_disabled():
        invoice = Invoice.objects.get()
    page = op_client.get(f"/invoices/i/{invoice.token}/").content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_api_needs_a_logged_in_operator(conversation):
    assert Client().get("/app/api/invoices/options").status_code == 401
    anonymous = Client(enforce_csrf_checks=True)
    assert post(anonymous, "/app/api/invoices/", {"conversation": conversation.pk, "lines": LINES}).status_code == 403
