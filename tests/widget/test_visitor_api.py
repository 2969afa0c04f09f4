"""The widget's own visitor endpoints: pre-chat profile, offline contact form, rating,
ending the chat and the emailed transcript."""

import json

import pytest
from django.conf import settings
from django.core import mail
from django_scopes import scopes_disabled

from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation, Message, Visitor

pytestmark = pytest.mark.django_db

def post(client, path, data, **extra):
    # The iframe calls from Parley's own origin.
    extra.setdefault("HTTP_ORIGIN", settings.PARLEY_BASE_URL)
    return client.post(f"/widget/api/{path}", data=json.dumps(data), content_type="application/json", **extra)


def contact_data(tenant, **overrides):
    data = {
        "key": tenant.widget_key,
        "anonymous_id": "anon-contact-0001",
        "name": "Ann",
        "email": "ann@example.com",
        "message": "Do you ship to Poland?",
        "url": "https://shop.example.com/cart",
    }
    data.update(overrides)
    return data


# --- contact form -------------------------------------------------------------------------


def test_contact_creates_a_visitor_conversation_and_message(client, tenant):
    response = post(client, "contact", contact_data(tenant))
    assert response.status_code == 201, response.content
    with scopes_disabled():
        conversation = Conversation.objects.get(pk=response.json()["conversation"]["id"])
        assert conversation.tenant == tenant
        assert conversation.status == Conversation.Status.QUEUED
        visitor = conversation.visitor
        assert (visitor.anonymous_id, visitor.name, visitor.email) == ("anon-contact-0001", "Ann", "ann@example.com")
        [message] = conversation.messages.all()
    assert message.author_type == Message.Author.VISITOR
    assert message.body == "Do you ship to Poland?"
    assert message.seq == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("email", ""), ("email", "not-an-email"), ("message", ""), ("message", "x" * 5001)],
)
def test_contact_validates_fields(client, tenant, field, value):
    response = post(client, "contact", contact_data(tenant, **{field: value}))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    with scopes_disabled():
        assert not Conversation.objects.exists()


def test_contact_stores_hostile_input_as_plain_text(client, tenant):
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script> & "quotes"'
    response = post(client, "contact", contact_data(tenant, name="<b>Eve</b>", message=hostile))
    assert response.status_code == 201
    with scopes_disabled():
        message = Message.objects.get()
        assert message.body == hostile
        assert message.conversation.visitor.name == "<b>Eve</b>"


def test_contact_with_an_unknown_key_is_404(client, tenant):
    assert post(client, "contact", contact_data(tenant, key="pk_unknown")).status_code == 404


def test_contact_refuses_an_origin_the_tenant_does_not_allow(client, tenant):
    tenant.allowed_domains = "shop.example.com"
    tenant.save()
    response = post(client, "contact", contact_data(tenant), HTTP_ORIGIN="https://evil.example.net")
    assert response.status_code == 403
    assert post(client, "contact", contact_data(tenant), HTTP_ORIGIN="https://shop.example.com").status_code == 201


def test_contact_with_a_token_uses_that_visitor(client, tenant, visitor, visitor_auth):
    response = post(client, "contact", contact_data(tenant, anonymous_id="ignored-anon-id"), **visitor_auth)
    assert response.status_code == 201
    with scopes_disabled():
        assert Conversation.objects.get().visitor == visitor
        assert Visitor.objects.count() == 1


def test_contact_is_not_csrf_protected_but_needs_post(client, tenant):
    csrf_client = client.__class__(enforce_csrf_checks=True)
    assert post(csrf_client, "contact", contact_data(tenant)).status_code == 201
    assert client.get("/widget/api/contact").status_code == 405


# --- pre-chat profile ---------------------------------------------------------------------


def test_profile_sets_name_email_and_phone(client, visitor, visitor_auth):
    profile = {"name": "Bob", "email": "bob@example.com", "phone": "+48 123 456"}
    response = post(client, "visitor", profile, **visitor_auth)
    assert response.status_code == 200
    with scopes_disabled():
        visitor.refresh_from_db()
    assert (visitor.name, visitor.email, visitor.phone) == ("Bob", "bob@example.com", "+48 123 456")


def test_profile_requires_a_name_and_a_token(client, visitor_auth):
    assert post(client, "visitor", {"name": "  "}, **visitor_auth).status_code == 400
    assert post(client, "visitor", {"name": "Bob"}).status_code == 401
    assert post(client, "visitor", {"name": "Bob"}, HTTP_AUTHORIZATION="Bearer forged").status_code == 401


# --- rating, end of chat, transcript: every one answers another tenant's id with 404 -----------


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("rating", {"rating": "good", "comment": ""}),
        ("end", {}),
        ("transcript", {"email": "x@example.com"}),
    ],
)
def test_conversation_actions_answer_another_tenants_or_visitors_conversation_with_404(
    client, tenant, conversation, other_conversation, visitor_auth, other_visitor_auth, path, payload
):
    foreign = post(client, path, {**payload, "conversation": other_conversation.pk}, **visitor_auth)
    missing = post(client, path, {**payload, "conversation": 999999}, **visitor_auth)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    with scopes_disabled():
        from tests.factories import ConversationFactory, VisitorFactory

        someone_else = ConversationFactory(tenant=tenant, visitor=VisitorFactory(tenant=tenant))
    assert post(client, path, {**payload, "conversation": someone_else.pk}, **visitor_auth).status_code == 404
    # The other tenant's visitor cannot reach ours either.
    assert post(client, path, {**payload, "conversation": conversation.pk}, **other_visitor_auth).status_code == 404


def test_rating_is_stored(client, conversation, visitor_auth):
    response = post(client, "rating", {"conversation": conversation.pk, "rating": "bad", "comment": "<i>slow</i>"},
                    **visitor_auth)
    assert response.status_code == 200
    with scopes_disabled():
        conversation.refresh_from_db()
    assert (conversation.rating, conversation.rating_comment) == ("bad", "<i>slow</i>")
    assert post(client, "rating", {"conversation": conversation.pk, "rating": "meh"}, **visitor_auth).status_code == 400


def test_visitor_can_end_the_chat(client, conversation, visitor_auth):
    response = post(client, "end", {"conversation": conversation.pk}, **visitor_auth)
    assert response.status_code == 200
    with scopes_disabled():
        conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED


def _chat(tenant, conversation, operator):
    conversation_services.message_send(
        tenant=tenant, conversation=conversation, author_type="visitor", body="Where is my order <42>?",
        client_id="c1",
    )
    conversation_services.message_send(
        tenant=tenant, conversation=conversation, author_type="operator", author=operator, body="On its way!",
        client_id="c2",
    )
    conversation_services.note_add(
        tenant=tenant, conversation=conversation, author=operator, body="internal: VIP customer", client_id="c3"
    )


def test_transcript_is_emailed_through_celery_without_private_notes(
    client, tenant, conversation, operator, visitor, visitor_auth, django_capture_on_commit_callbacks
):
    visitor.name = "Ann"
    with scopes_disabled():
        visitor.save()
    _chat(tenant, conversation, operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, "transcript", {"conversation": conversation.pk, "email": "ann@example.com"},
                        **visitor_auth)
    assert response.status_code == 202
    [email] = mail.outbox
    assert email.to == ["ann@example.com"]
    assert "Acme" in email.subject
    assert "Where is my order <42>?" in email.body
    assert "On its way!" in email.body
    assert "Ann:" in email.body
    assert "VIP" not in email.body
    assert "operator@acme.test" not in email.body


def test_transcript_validates_the_email(client, conversation, visitor_auth):
    response = post(client, "transcript", {"conversation": conversation.pk, "email": "nope"}, **visitor_auth)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "email"
    assert mail.outbox == []


def test_transcript_task_takes_ids_and_skips_a_missing_conversation(
    tenant, other_tenant, conversation, operator, django_capture_on_commit_callbacks
):
    from apps.widget.tasks import transcript_send

    _chat(tenant, conversation, operator)
    with django_capture_on_commit_callbacks(execute=True):
        assert transcript_send(tenant.pk, conversation.pk, "ann@example.com", "en") is True
    assert len(mail.outbox) == 1
    # Run for another tenant, the same id names nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert transcript_send(other_tenant.pk, conversation.pk, "ann@example.com", "en") is False
    assert len(mail.outbox) == 1


def test_the_transcript_leaves_through_the_conversation_sender_and_its_answer_threads_back(
    tenant, conversation, operator, django_capture_on_commit_callbacks
):
    from django_scopes import scopes_disabled

    from apps.emailbridge import addressing
    from apps.emailbridge import services as emailbridge_services
    from apps.emailbridge.models import OutboundEmail
    from apps.widget.tasks import transcript_send
    from tests.emailbridge.mail import build

    _chat(tenant, conversation, operator)
    with django_capture_on_commit_callbacks(execute=True):
        transcript_send(tenant.pk, conversation.pk, "Ann@Example.com", "en")
    [sent] = mail.outbox
    with scopes_disabled():
        [row] = OutboundEmail.objects.filter(tenant=tenant)
    assert (row.kind, row.status, row.to_address) == ("transcript", "sent", "ann@example.com")
    assert sent.extra_headers["Message-ID"] == f"<{row.message_id}>"
    assert sent.extra_headers["Reply-To"] == addressing.reply_address(tenant.pk, conversation.pk)
    assert "Auto-Submitted" not in sent.extra_headers  # asked for by a person, answered by a person
    answer = build(to=sent.extra_headers["Reply-To"], subject=f"Re: {sent.subject}", text="One more question",
                   headers={"In-Reply-To": sent.extra_headers["Message-ID"]})
    with django_capture_on_commit_callbacks(execute=True):
        inbound = emailbridge_services.inbound_email_receive(
            raw=answer, recipient=sent.extra_headers["Reply-To"], envelope_from="sender@example.com", source="smtp",
            tenant=tenant,
        )
    with scopes_disabled():
        inbound.refresh_from_db()
    assert inbound.conversation_id == conversation.pk


def test_transcript_is_sent_at_most_three_times_per_conversation(client, conversation, visitor_auth):
    payload = {"conversation": conversation.pk, "email": "a@example.com"}
    answers = [post(client, "transcript", payload, **visitor_auth).status_code for _ in range(4)]
    assert answers == [202, 202, 202, 403]


def test_contact_form_is_rate_limited_per_address(client, tenant):
    from apps.widget.api import CONTACTS_PER_HOUR

    answers = [post(client, "contact", contact_data(tenant)).status_code for _ in range(CONTACTS_PER_HOUR + 1)]
    assert answers[:-1] == [201] * CONTACTS_PER_HOUR
    assert answers[-1] == 429


def test_token_calls_from_a_site_the_tenant_does_not_allow_are_refused(client, tenant, conversation, visitor_auth):
    tenant.allowed_domains = "shop.example.com"
    tenant.save()
    payload = {"conversation": conversation.pk, "rating": "good"}
    assert post(client, "rating", payload, HTTP_ORIGIN="https://evil.example.net", **visitor_auth).status_code == 403
    assert post(client, "rating", payload, **visitor_auth).status_code == 200  # Parley's own origin (the iframe)
