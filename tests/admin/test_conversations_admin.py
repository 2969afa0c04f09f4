"""Visitors and transcripts in a tenant admin's hands."""

from datetime import UTC, datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.conversations.models import Conversation, Message, VisitorNote
from tests import factories

EMPTY_NOTES = {
    "notes-TOTAL_FORMS": "0",
    "notes-INITIAL_FORMS": "0",
    "notes-MIN_NUM_FORMS": "0",
    "notes-MAX_NUM_FORMS": "1000",
}


def form_of(response):
    return response.context["adminform"].form


def changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:conversations_conversation_changelist"))
    assert response.status_code == 200
    return len(queries)


def make_conversations(tenant, count, assignee, department):
    with scopes_disabled():
        for _ in range(count):
            factories.ConversationFactory(tenant=tenant, assignee=assignee, department=department, rating="good")


def test_the_conversation_list_costs_the_same_queries_for_2_or_12_rows(owner_client, tenant, operator):
    with scopes_disabled():
        department = factories.DepartmentFactory(tenant=tenant)
    make_conversations(tenant, 2, operator, department)
    few = changelist_queries(owner_client)
    make_conversations(tenant, 10, operator, department)
    assert changelist_queries(owner_client) == few


def test_the_superusers_conversation_list_costs_the_same_queries_for_2_or_12_rows(
    superuser_client, tenant, other_tenant, operator, other_operator
):
    make_conversations(tenant, 1, operator, None)
    make_conversations(other_tenant, 1, other_operator, None)
    few = changelist_queries(superuser_client)
    make_conversations(tenant, 5, operator, None)
    make_conversations(other_tenant, 5, other_operator, None)
    assert changelist_queries(superuser_client) == few


def test_the_transcript_shows_message_text_escaped(owner_client, tenant, operator):
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant)
        factories.MessageFactory(
            tenant=tenant, conversation=conversation, seq=1, body="<script>alert('x')</script>\nsecond line"
        )
        factories.MessageFactory(
            tenant=tenant,
            conversation=conversation,
            seq=2,
            author_type=Message.Author.OPERATOR,
            author=operator,
            kind=Message.Kind.NOTE,
            body="<b>internal</b>",
        )
    page = owner_client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk]))
    html = page.content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;<br>second line" in html
    assert "<script>alert(" not in html
    assert "&lt;b&gt;internal&lt;/b&gt;" in html
    assert operator.name_for_team in html


def test_assignee_and_department_choices_are_the_tenants_own(owner_client, tenant, other_tenant, operator, other_owner):
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant)
        department = factories.DepartmentFactory(tenant=tenant)
        other_department = factories.DepartmentFactory(tenant=other_tenant)
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    form = form_of(owner_client.get(url))
    with scopes_disabled():  # the lazy queryset runs after the request: its own filter must hold
        assert set(form.fields["assignee"].queryset) == {operator} | set(
            form.fields["assignee"].queryset.filter(role="owner")
        )
        assert other_owner not in set(form.fields["assignee"].queryset)
        assert list(form.fields["department"].queryset) == [department]

    refused = owner_client.post(url, {"assignee": other_owner.pk, "department": other_department.pk})
    assert refused.status_code == 200
    assert {"assignee", "department"} <= set(form_of(refused).errors)

    saved = owner_client.post(url, {"subject": "Refund", "assignee": operator.pk, "department": department.pk})
    assert saved.status_code == 302
    with scopes_disabled():
        conversation.refresh_from_db()
        assert (conversation.assignee, conversation.department, conversation.subject) == (
            operator,
            department,
            "Refund",
        )


def test_assigning_in_the_admin_goes_through_the_service(owner_client, tenant, owner, operator):
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant)
    assert conversation.status == Conversation.Status.QUEUED
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    assert owner_client.post(url, {"assignee": operator.pk}).status_code == 302
    with scopes_disabled():
        conversation.refresh_from_db()
        system = list(conversation.messages.values_list("author_type", "data"))
        assert (conversation.assignee, conversation.status, conversation.last_seq) == (operator, "open", 1)
    assert system[0][0] == Message.Author.SYSTEM


def test_the_admin_never_overwrites_what_arrived_while_the_form_was_open(owner_client, tenant, operator):
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant)
        visitor = conversation.visitor
    conversation_url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    visitor_url = reverse("admin:conversations_visitor_change", args=[visitor.pk])
    owner_client.get(conversation_url)
    owner_client.get(visitor_url)
    with scopes_disabled():
        # Meanwhile a message arrives and the visitor opens another page.
        Conversation.objects.filter(pk=conversation.pk).update(last_seq=7, status="open")
        type(visitor).objects.filter(pk=visitor.pk).update(visit_count=9, current_url="https://acme.test/pricing")
    assert owner_client.post(conversation_url, {"subject": "Billing"}).status_code == 302
    assert owner_client.post(visitor_url, {**EMPTY_NOTES, "name": "Jane", "email": "", "phone": ""}).status_code == 302
    with scopes_disabled():
        conversation.refresh_from_db()
        visitor.refresh_from_db()
    assert (conversation.subject, conversation.last_seq, conversation.status) == ("Billing", 7, "open")
    assert (visitor.name, visitor.visit_count, visitor.current_url) == ("Jane", 9, "https://acme.test/pricing")


def test_an_assigned_chat_is_not_unassigned_by_clearing_the_field(owner_client, tenant, operator):
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant, assignee=operator, status="open")
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    response = owner_client.post(url, {"assignee": ""})
    assert "assignee" in form_of(response).errors


def test_a_closed_chat_keeps_its_assignee(owner_client, tenant, owner, operator):
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant, assignee=operator, status="closed")
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    assert "assignee" not in form_of(owner_client.get(url)).fields
    assert owner_client.post(url, {"assignee": owner.pk}).status_code == 302
    with scopes_disabled():
        conversation.refresh_from_db()
        assert conversation.assignee == operator


def test_a_service_refusal_is_shown_and_nothing_is_saved(owner_client, tenant, visitor):
    url = reverse("admin:conversations_visitor_change", args=[visitor.pk])
    response = owner_client.post(url, {**EMPTY_NOTES, "name": "Jane", "email": "", "phone": "call me maybe"})
    assert response.status_code == 302
    assert response["Location"] == url
    with scopes_disabled():
        visitor.refresh_from_db()
    assert visitor.name == ""


def test_conversations_and_visitors_are_not_added_in_the_admin(owner_client):
    assert owner_client.get(reverse("admin:conversations_conversation_add")).status_code == 403
    assert owner_client.get(reverse("admin:conversations_visitor_add")).status_code == 403


def test_messages_are_read_only(owner_client, tenant):
    with scopes_disabled():
        message = factories.MessageFactory(tenant=tenant, body="hello")
    change_url = reverse("admin:conversations_message_change", args=[message.pk])
    assert owner_client.get(change_url).status_code == 200
    assert owner_client.post(change_url, {"body": "rewritten"}).status_code == 403
    assert owner_client.get(reverse("admin:conversations_message_add")).status_code == 403
    delete_url = reverse("admin:conversations_message_delete", args=[message.pk])
    assert owner_client.post(delete_url, {"post": "yes"}).status_code == 403
    with scopes_disabled():
        message.refresh_from_db()
    assert message.body == "hello"


def test_a_note_added_on_the_visitor_page_gets_the_tenant_and_the_author(owner_client, tenant, owner, visitor):
    response = owner_client.post(
        reverse("admin:conversations_visitor_change", args=[visitor.pk]),
        {
            "name": "Jane",
            "email": "jane@example.com",
            "phone": "",
            "notes-TOTAL_FORMS": "1",
            "notes-INITIAL_FORMS": "0",
            "notes-MIN_NUM_FORMS": "0",
            "notes-MAX_NUM_FORMS": "1000",
            "notes-0-body": "Prefers email",
        },
    )
    assert response.status_code == 302, response.context and form_of(response).errors
    with scopes_disabled():
        note = VisitorNote.objects.get()
        visitor.refresh_from_db()
        assert (note.tenant, note.visitor, note.author, note.body) == (tenant, visitor, owner, "Prefers email")
    assert visitor.name == "Jane"


def test_visitors_are_found_by_name_or_email(owner_client, tenant, other_tenant):
    with scopes_disabled():
        jane = factories.VisitorFactory(tenant=tenant, name="Jane Roe", email="jane@example.com")
        factories.VisitorFactory(tenant=tenant, name="John Doe")
        factories.VisitorFactory(tenant=other_tenant, name="Jane Other", email="jane@other.test")
    url = reverse("admin:conversations_visitor_changelist")
    for term in ("Jane", "jane@example"):
        listed = owner_client.get(url, {"q": term}).context["cl"].result_list
        assert [row.pk for row in listed] == [jane.pk]


def test_the_visitor_page_links_to_their_conversations(owner_client, tenant, visitor):
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant, visitor=visitor)
    page = owner_client.get(reverse("admin:conversations_visitor_change", args=[visitor.pk])).content.decode()
    assert reverse("admin:conversations_conversation_change", args=[conversation.pk]) in page


def test_times_are_shown_in_the_tenants_time_zone(owner_client, tenant):
    with scopes_disabled():
        tenant.time_zone = "Asia/Tokyo"
        tenant.save()
        conversation = factories.ConversationFactory(tenant=tenant, created_at=datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    page = owner_client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk]))
    # 12:00 UTC is 21:00 in Tokyo.
    assert "Jan. 15, 2026, 9 p.m." in page.content.decode()
    listed = owner_client.get(reverse("admin:conversations_conversation_changelist")).content.decode()
    assert "01/15/2026 9 p.m." in listed


def test_deleting_a_conversation_or_a_visitor_takes_the_transcript_along(owner_client, tenant):
    with scopes_disabled():
        message = factories.MessageFactory(tenant=tenant)
        conversation = message.conversation
        visitor = conversation.visitor
        other = factories.MessageFactory(tenant=tenant)
    conversation_url = reverse("admin:conversations_conversation_delete", args=[conversation.pk])
    assert owner_client.post(conversation_url, {"post": "yes"}).status_code == 302
    visitor_url = reverse("admin:conversations_visitor_delete", args=[other.conversation.visitor_id])
    assert owner_client.post(visitor_url, {"post": "yes"}).status_code == 302
    with scopes_disabled():
        assert not Message.objects.filter(pk__in=[message.pk, other.pk]).exists()
        assert not Conversation.objects.filter(pk__in=[conversation.pk, other.conversation_id]).exists()
        assert type(visitor).objects.filter(pk=visitor.pk).exists()


def test_subject_and_department_edits_in_the_admin_go_through_the_service_and_tell_the_dashboards(
    owner_client, tenant, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.conversations import events
    from tests.conversations.conftest import RecordingLayer

    layer = RecordingLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant)
        department = factories.DepartmentFactory(tenant=tenant, name="Billing desk")
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, {"subject": "Refund", "department": department.pk})
    assert response.status_code == 302
    frames = layer.frames(f"t{tenant.pk}.ops")
    assert [(f["type"], f["event"]) for f in frames] == [("conversation", "updated")]
    assert frames[0]["conversation"]["subject"] == "Refund"
    assert frames[0]["conversation"]["department"] == {"id": department.pk, "name": "Billing desk"}
    # The visitor's sockets hear nothing of an internal edit.
    assert layer.groups() == [f"t{tenant.pk}.ops"]
    layer.clear()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url, {"subject": "Refund", "department": ""})
    assert layer.frames(f"t{tenant.pk}.ops")[0]["conversation"]["department"] is None
    with scopes_disabled():
        conversation.refresh_from_db()
    assert (conversation.subject, conversation.department) == ("Refund", None)


def test_an_unchanged_admin_form_publishes_nothing(
    owner_client, tenant, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.conversations import events
    from tests.conversations.conftest import RecordingLayer

    layer = RecordingLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant, subject="Same")
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(url, {"subject": "Same"}).status_code == 302
    assert layer.sent == []
