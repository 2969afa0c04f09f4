"""Routing's HTTP endpoints, and the isolation table: another tenant's (or visitor's) ids are not_found."""

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django_scopes import scopes_disabled

from apps.conversations.models import Visitor
from apps.conversations.tokens import visitor_token_issue
from apps.routing import sweeps
from apps.routing.models import QueueEntry
from tests import factories


def bearer(tenant, visitor):
    # The chat iframe's request: a write carries Parley's Origin (the one Origin rule, docs/widget.md).
    return {
        "HTTP_AUTHORIZATION": "Bearer " + visitor_token_issue(tenant=tenant, visitor=visitor),
        "HTTP_ORIGIN": settings.PARLEY_BASE_URL,
    }


def post(client, url, data, **headers):
    return client.post(url, json.dumps(data), content_type="application/json", **headers)


@pytest.fixture
def op_client(operator):
    client = Client()
    client.force_login(operator.user)
    return client


def test_a_waiting_visitor_reads_their_place_in_the_queue(client, tenant, visitor, start_chat):
    first = start_chat()
    mine = start_chat(visitor=visitor)
    answer = post(client, "/widget/api/queue/state", {"conversation": mine.pk}, **bearer(tenant, visitor))
    assert answer.status_code == 200
    assert answer.json()["queue"]["position"] == 2
    assert first.pk != mine.pk


def test_the_email_asked_for_by_the_retention_phrase_is_stored_on_the_visitor(
    client, tenant, visitor, start_chat, publish
):
    conversation = start_chat(visitor=visitor)
    with publish():
        sweeps.queue_sweep(now=conversation.created_at + timedelta(seconds=40))
    answer = post(
        client,
        "/widget/api/queue/email",
        {"conversation": conversation.pk, "email": "Ann@Example.test"},
        **bearer(tenant, visitor),
    )
    assert answer.status_code == 200
    with scopes_disabled():
        assert Visitor.objects.get(pk=visitor.pk).email == "ann@example.test"


@pytest.mark.parametrize("email", ["", "not an email", 42, None, ["a@b.c"], "x" * 300 + "@example.test"])
def test_a_bad_email_is_refused_and_changes_nothing(client, tenant, visitor, start_chat, email):
    conversation = start_chat(visitor=visitor)
    answer = post(
        client, "/widget/api/queue/email", {"conversation": conversation.pk, "email": email}, **bearer(tenant, visitor)
    )
    assert answer.status_code == 400
    with scopes_disabled():
        assert Visitor.objects.get(pk=visitor.pk).email == ""


@pytest.mark.parametrize("path", ["/widget/api/queue/state", "/widget/api/queue/email"])
def test_another_tenants_or_another_visitors_conversation_is_not_found(
    client, tenant, visitor, other_tenant, other_visitor, start_chat, path
):
    theirs = start_chat(tenant_=other_tenant, visitor=other_visitor)
    with scopes_disabled():
        neighbour = factories.VisitorFactory(tenant=tenant)
    same_tenant_other_visitor = start_chat(visitor=neighbour)
    for target in (theirs, same_tenant_other_visitor):
        answer = post(client, path, {"conversation": target.pk, "email": "x@example.test"}, **bearer(tenant, visitor))
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found"), answer.content
    with scopes_disabled():
        assert Visitor.objects.get(pk=visitor.pk).email == ""
        assert Visitor.objects.get(pk=other_visitor.pk).email == ""


def test_the_operator_state_shows_presence_offers_and_targets_of_their_own_tenant_only(
    op_client, tenant, operator, other_tenant, other_visitor, start_chat, make_operator
):
    from apps.routing.presence import presence_set

    presence_set(tenant=tenant, membership=operator, status="online")
    mine = start_chat()
    theirs = start_chat(tenant_=other_tenant, visitor=other_visitor)
    answer = op_client.get(f"/app/api/routing/state?ids={mine.pk},{theirs.pk},abc,-1")
    assert answer.status_code == 200
    data = answer.json()
    assert data["presence"]["status"] == "online"
    assert [o["conversation"] for o in data["offers"]] == [mine.pk]
    assert set(data["sla"]) == {str(mine.pk)}
    assert data["sla"][str(mine.pk)]["kind"] == "first"
    with scopes_disabled():
        assert QueueEntry.objects.filter(conversation=theirs).exists()


def test_the_operator_state_needs_a_signed_in_operator(client):
    assert client.get("/app/api/routing/state").status_code == 401
