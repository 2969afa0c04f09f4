"""The dashboard page and its JSON endpoints: access, tenant isolation, fixed query counts."""

import json

import pytest
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from apps.canned.models import CannedHotkey, CannedUsage
from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation, Message, PageView, VisitorNote
from apps.dashboard.models import OperatorStatus
from tests import factories

pytestmark = pytest.mark.django_db


def post_json(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


# --- access -----------------------------------------------------------------------------


def test_the_dashboard_renders_for_an_operator_with_the_catalogue_and_bootstrap(op_client, operator, tenant):
    response = op_client.get("/app/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="parley-i18n"' in html and 'id="parley-boot"' in html
    assert f'"id": {operator.pk}' in html
    assert "dashboard/app.js" in html


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/app/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert client.get("/app/api/conversations?box=queued").status_code == 401


def test_a_user_without_membership_is_refused(db):
    with scopes_disabled():
        user = factories.UserFactory(email="nobody@example.com")
    client = Client()
    client.force_login(user)
    assert client.get("/app/").status_code == 403
    assert client.get("/app/api/conversations?box=queued").status_code == 403
    assert client.get("/app/api/visitors/online").status_code == 403


def test_an_inactive_membership_is_refused(operator):
    with scopes_disabled():
        operator.is_active = False
        operator.save()
    client = Client()
    client.force_login(operator.user)
    assert client.get("/app/").status_code == 403
    assert client.get("/app/api/team").status_code == 403


# --- tenant isolation: every endpoint with another tenant's ids ---------------------------

ENDPOINTS = [
    ("get", "/app/api/conversations/{conversation}", None),
    ("get", "/app/api/conversations/{conversation}/messages", None),
    ("post", "/app/api/conversations/{conversation}/invite", {"operator": "{colleague}"}),
    ("get", "/app/api/visitors/{visitor}", None),
    ("post", "/app/api/visitors/{visitor}", {"name": "Mallory"}),
    ("post", "/app/api/visitors/{visitor}/notes", {"body": "spying"}),
    ("post", "/app/api/visitors/{visitor}/invite", {"body": "hi", "client_id": "x1"}),
    ("post", "/app/api/conversations/{own_conversation}/invite", {"operator": "{other_colleague}"}),
    ("get", "/app/api/invoices/?visitor={visitor}", None),
    ("post", "/app/api/invoices/", {"conversation": "{conversation}", "lines": [{"description": "x"}]}),
    ("post", "/app/api/invoices/{invoice}/send", {}),
    ("post", "/app/api/invoices/{invoice}/cancel", {}),
    ("get", "/app/api/canned/{canned}", None),
    ("post", "/app/api/canned/{canned}/fill", {}),
    ("post", "/app/api/canned/{own_canned}/fill", {"conversation": "{conversation}"}),
    ("post", "/app/api/canned/hotkeys", {"slot": 1, "reply": "{canned}"}),
]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_another_tenants_ids_are_answered_like_missing_ones(
    method, url, body, op_client, operator, conversation, other_conversation, other_operator, other_visitor, tenant
):
    with scopes_disabled():
        colleague = factories.MembershipFactory(tenant=tenant, user__email="colleague@acme.test")
        other_invoice = factories.InvoiceFactory(tenant=other_conversation.tenant, conversation=other_conversation)
        other_canned = factories.CannedReplyFactory(tenant=other_conversation.tenant)
        own_canned = factories.CannedReplyFactory(tenant=tenant)
    ids = {
        "invoice": other_invoice.pk,
        "canned": other_canned.pk,
        "own_canned": own_canned.pk,
        "conversation": other_conversation.pk,
        "visitor": other_visitor.pk,
        "colleague": colleague.pk,
        "own_conversation": conversation.pk,
        "other_colleague": other_operator.pk,
    }
    target = url.format(**ids)
    if method == "get":
        response = op_client.get(target)
    else:
        payload = {k: (v.format(**ids) if isinstance(v, str) else v) for k, v in body.items()}
        response = post_json(op_client, target, payload)
    assert response.status_code == 404, response.content
    with scopes_disabled():
        assert other_visitor.__class__.objects.get(pk=other_visitor.pk).name != "Mallory"
        assert not VisitorNote.objects.filter(visitor=other_visitor).exists()
        assert Conversation.objects.filter(visitor=other_visitor).count() == 1
        assert not Message.objects.filter(conversation=other_conversation).exists()
        assert not Message.objects.filter(conversation=conversation).exists()
        assert other_invoice.__class__.objects.get(pk=other_invoice.pk).status == "sent"
        assert not CannedUsage.objects.exists() and not CannedHotkey.objects.exists()


def test_missing_ids_are_404_too(op_client):
    assert op_client.get("/app/api/conversations/999999").status_code == 404
    assert op_client.get("/app/api/visitors/999999").status_code == 404


def test_lists_show_only_the_operators_tenant(op_client, conversation, other_conversation):
    ids = [c["id"] for c in op_client.get("/app/api/conversations?box=queued").json()["conversations"]]
    assert ids == [conversation.pk]


def test_visitors_online_show_only_the_operators_tenant_and_recent_ones(op_client, tenant, visitor, other_visitor):
    with scopes_disabled():
        stale = factories.VisitorFactory(tenant=tenant, last_seen_at=timezone.now() - timezone.timedelta(hours=1))
    ids = [v["id"] for v in op_client.get("/app/api/visitors/online").json()["visitors"]]
    assert visitor.pk in ids
    assert other_visitor.pk not in ids
    assert stale.pk not in ids


def test_the_team_lists_only_the_tenants_operators(op_client, operator, other_operator):
    team = op_client.get("/app/api/team").json()
    assert [o["id"] for o in team["operators"]] == [operator.pk]


# --- the list endpoint runs a fixed number of queries --------------------------------------


STATUSES = [Conversation.Status.QUEUED, Conversation.Status.OPEN, Conversation.Status.CLOSED]


def make_conversations(tenant, operator, n):
    """n conversations with a visitor message each: a third queued, a third open (the operator's), a third closed."""
    with scopes_disabled():
        for i in range(n):
            conversation = factories.ConversationFactory(tenant=tenant, visitor=factories.VisitorFactory(tenant=tenant))
            conversation_services.message_send(
                tenant=tenant,
                conversation=conversation,
                author_type=Message.Author.VISITOR,
                body=f"hello {i}",
                client_id=f"c{i}",
            )
            status = STATUSES[i % 3]
            Conversation.objects.filter(pk=conversation.pk).update(
                status=status, assignee=operator if status != Conversation.Status.QUEUED else None
            )


@pytest.mark.parametrize("count", [3, 30])
@pytest.mark.parametrize("box", ["queued", "mine", "open", "closed"])
def test_the_list_endpoint_runs_a_fixed_number_of_queries(
    box, count, tenant, operator, op_client, django_assert_num_queries
):
    op_client.get("/app/api/conversations?box=queued")  # warm the session
    make_conversations(tenant, operator, count)
    # session + user + membership (middleware), one page with unread counts, the last messages.
    with django_assert_num_queries(5):
        response = op_client.get(f"/app/api/conversations?box={box}")
    rows = response.json()["conversations"]
    assert len(rows) == count // 3
    assert all(row["unread"] == 1 and row["last_message"]["body"].startswith("hello") for row in rows)


def test_the_queue_is_served_oldest_first(tenant, operator, op_client):
    make_conversations(tenant, operator, 9)
    rows = op_client.get("/app/api/conversations?box=queued&limit=2").json()
    with scopes_disabled():
        queued = Conversation.objects.filter(tenant=tenant, status="queued").order_by("created_at")
        oldest = list(queued.values_list("pk", flat=True))
    assert [c["id"] for c in rows["conversations"]] == oldest[:2]
    assert rows["next_before"] is None


def test_the_list_pages_back_with_before(tenant, operator, op_client):
    make_conversations(tenant, operator, 21)
    first = op_client.get("/app/api/conversations?box=closed&limit=3").json()
    assert len(first["conversations"]) == 3 and first["next_before"]
    params = {"box": "closed", "limit": 3, "before": first["next_before"]}
    second = op_client.get("/app/api/conversations", params).json()
    assert not {c["id"] for c in first["conversations"]} & {c["id"] for c in second["conversations"]}


def test_an_unknown_box_or_cursor_is_a_bad_request(op_client):
    assert op_client.get("/app/api/conversations?box=spam").status_code == 400
    assert op_client.get("/app/api/conversations?box=open&before=yesterday").status_code == 400


# --- endpoints that read and write ---------------------------------------------------------


def test_messages_include_notes_in_seq_order(tenant, operator, conversation, op_client):
    conversation_services.message_send(
        tenant=tenant, conversation=conversation, author_type="visitor", body="hi", client_id="v1"
    )
    conversation_services.note_add(
        tenant=tenant, conversation=conversation, author=operator, body="vip", client_id="n1"
    )
    payload = op_client.get(f"/app/api/conversations/{conversation.pk}/messages").json()
    assert [(m["seq"], m["kind"]) for m in payload["messages"]] == [(1, "text"), (2, "note")]
    after = op_client.get(f"/app/api/conversations/{conversation.pk}/messages?after=1").json()
    assert [m["seq"] for m in after["messages"]] == [2]


def _long_conversation(tenant, conversation, count):
    with scopes_disabled():
        Message.objects.bulk_create(
            Message(tenant=tenant, conversation=conversation, seq=seq, client_id=f"m{seq}", body=f"message {seq}",
                    author_type="visitor")
            for seq in range(1, count + 1)
        )
        Conversation.objects.filter(pk=conversation.pk).update(last_seq=count)


def test_a_long_conversation_opens_at_its_newest_page_and_pages_back_with_a_cursor(
    tenant, conversation, op_client
):
    _long_conversation(tenant, conversation, 600)
    url = f"/app/api/conversations/{conversation.pk}/messages"
    newest = op_client.get(url).json()
    assert [m["seq"] for m in newest["messages"]] == list(range(551, 601))
    assert (newest["has_older"], newest["before"], newest["after"]) == (True, 551, 600)
    seen = [m["seq"] for m in newest["messages"]]
    cursor, pages = newest["before"], 1
    while True:
        page = op_client.get(f"{url}?before={cursor}&limit=200").json()
        seen = [m["seq"] for m in page["messages"]] + seen
        pages += 1
        if not page["has_older"]:
            break
        cursor = page["before"]
    assert seen == list(range(1, 601)) and pages == 4  # 50 + 200 + 200 + 150, each once


def test_resync_after_a_gap_says_when_the_page_was_full(tenant, conversation, op_client):
    _long_conversation(tenant, conversation, 600)
    url = f"/app/api/conversations/{conversation.pk}/messages"
    first = op_client.get(f"{url}?after=10&limit=500").json()
    assert (first["messages"][0]["seq"], first["after"], first["has_newer"]) == (11, 510, True)
    rest = op_client.get(f"{url}?after=510&limit=500").json()
    assert (len(rest["messages"]), rest["has_newer"]) == (90, False)


@pytest.mark.parametrize("query", ["before=x", "before=1.5", "limit=many", "after=-"])
def test_a_bad_cursor_is_a_bad_request(conversation, op_client, query):
    response = op_client.get(f"/app/api/conversations/{conversation.pk}/messages?{query}")
    assert response.status_code == 400


def test_the_visitor_card_shows_pages_conversations_and_notes(tenant, operator, visitor, conversation, op_client):
    with scopes_disabled():
        PageView.objects.create(tenant=tenant, visitor=visitor, url="https://shop.example/pricing", title="Pricing")
        visitor.user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
        visitor.save()
    card = op_client.get(f"/app/api/visitors/{visitor.pk}").json()
    assert card["pages"][0]["url"] == "https://shop.example/pricing"
    assert card["browser"] == "Chrome 126" and card["os"] == "Windows"
    assert [c["id"] for c in card["conversations"]] == [conversation.pk]


def test_an_operator_edits_the_visitor_and_adds_a_note(visitor, op_client, publish, layer, tenant):
    with publish():
        response = post_json(op_client, f"/app/api/visitors/{visitor.pk}", {"name": "Ada", "email": "ADA@example.com"})
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"
    assert any(f["type"] == "visitor" for f in layer.frames(f"t{tenant.pk}.ops"))
    response = post_json(op_client, f"/app/api/visitors/{visitor.pk}/notes", {"body": "Prefers email"})
    assert response.status_code == 201
    assert response.json()["note"]["body"] == "Prefers email"
    bad = post_json(op_client, f"/app/api/visitors/{visitor.pk}", {"email": "not an email"})
    assert bad.status_code == 400


def test_the_status_switch_is_stored_and_broadcast_to_the_ops_group(op_client, operator, tenant, publish, layer):
    with publish():
        response = post_json(op_client, "/app/api/status", {"status": "paused"})
    assert response.json() == {"status": "paused"}
    with scopes_disabled():
        assert OperatorStatus.objects.get(membership=operator).status == "paused"
    frames = layer.frames(f"t{tenant.pk}.ops")
    assert frames == [
        {
            "type": "presence",
            "operator": {
                "id": operator.pk,
                "user": operator.user_id,
                "name": operator.name_for_team,
                "status": "paused",
                "changed_at": frames[0]["operator"]["changed_at"],
                "reason": "",
                "detail": {},
            },
        }
    ]
    assert post_json(op_client, "/app/api/status", {"status": "asleep"}).status_code == 400


def test_inviting_a_visitor_starts_a_proactive_chat_assigned_to_the_operator(
    op_client, operator, visitor, tenant, publish, layer
):
    with publish():
        response = post_json(
            op_client, f"/app/api/visitors/{visitor.pk}/invite", {"body": "Need help?", "client_id": "i1"}
        )
    assert response.status_code == 201
    summary = response.json()
    assert summary["status"] == "open" and summary["assignee"]["id"] == operator.pk
    with scopes_disabled():
        conversation = Conversation.objects.get(pk=summary["id"])
        last = conversation.messages.order_by("-seq").first()
    assert (last.author_type, last.author_id, last.body) == ("operator", operator.pk, "Need help?")
    visitor_frames = layer.frames(f"c{conversation.pk}")
    assert any(f["type"] == "message" and f["message"]["body"] == "Need help?" for f in visitor_frames)


def test_inviting_a_colleague_adds_a_note_and_notifies_only_them(
    op_client, operator, tenant, conversation, publish, layer
):
    with scopes_disabled():
        colleague = factories.MembershipFactory(tenant=tenant, user__email="colleague@acme.test")
    with publish():
        response = post_json(op_client, f"/app/api/conversations/{conversation.pk}/invite", {"operator": colleague.pk})
    assert response.status_code == 200
    assert layer.frames(f"u{colleague.user_id}") == [
        {"type": "notice", "event": "invited", "conversation": conversation.pk, "by": operator.name_for_team}
    ]
    assert layer.frames(f"c{conversation.pk}") == []  # the visitor never sees the note
    with scopes_disabled():
        note = Message.objects.get(conversation=conversation)
    assert note.kind == "note" and note.data["event"] == "invited"
