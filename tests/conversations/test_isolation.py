"""Every service, selector and widget endpoint tried with another tenant's ids: the answer is "not found"."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled

from apps.conversations import selectors, services
from apps.conversations.errors import NotFound
from apps.conversations.models import Attachment, Conversation, Message, PageView, Visitor, VisitorNote
from apps.conversations.tokens import visitor_token_issue
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_tenant, other_visitor, other_operator):
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=other_tenant, visitor=other_visitor)
        department = factories.DepartmentFactory(tenant=other_tenant)
    return {
        "conversation": conversation,
        "visitor": other_visitor,
        "operator": other_operator,
        "department": department,
    }


def pdf():
    return SimpleUploadedFile("a.pdf", b"%PDF-1.4 x")


CALLS = {
    "page_view_record": lambda t, me, them: services.page_view_record(
        tenant=t, visitor=them["visitor"], url="https://x.test/"
    ),
    "visitor_update": lambda t, me, them: services.visitor_update(tenant=t, visitor=them["visitor"], name="x"),
    "visitor_note_add": lambda t, me, them: services.visitor_note_add(
        tenant=t, visitor=them["visitor"], author=me["operator"], body="x"
    ),
    "visitor_note_add_by_their_operator": lambda t, me, them: services.visitor_note_add(
        tenant=t, visitor=me["visitor"], author=them["operator"], body="x"
    ),
    "conversation_start": lambda t, me, them: services.conversation_start(tenant=t, visitor=them["visitor"]),
    "conversation_start_their_department": lambda t, me, them: services.conversation_start(
        tenant=t, visitor=me["visitor"], department=them["department"]
    ),
    "message_send": lambda t, me, them: services.message_send(
        tenant=t, conversation=them["conversation"], author_type="visitor", body="x", client_id="c"
    ),
    "message_send_as_their_operator": lambda t, me, them: services.message_send(
        tenant=t,
        conversation=me["conversation"],
        author_type="operator",
        author=them["operator"],
        body="x",
        client_id="c",
    ),
    "note_add": lambda t, me, them: services.note_add(
        tenant=t, conversation=them["conversation"], author=me["operator"], body="x", client_id="c"
    ),
    "message_mark_read": lambda t, me, them: services.message_mark_read(
        tenant=t, conversation=them["conversation"], side="operator", seq=1
    ),
    "conversation_accept": lambda t, me, them: services.conversation_accept(
        tenant=t, conversation=them["conversation"], membership=me["operator"]
    ),
    "conversation_accept_by_their_operator": lambda t, me, them: services.conversation_accept(
        tenant=t, conversation=me["conversation"], membership=them["operator"]
    ),
    "conversation_assign": lambda t, me, them: services.conversation_assign(
        tenant=t, conversation=them["conversation"], assignee=me["operator"]
    ),
    "conversation_assign_to_their_operator": lambda t, me, them: services.conversation_assign(
        tenant=t, conversation=me["conversation"], assignee=them["operator"]
    ),
    "conversation_transfer": lambda t, me, them: services.conversation_transfer(
        tenant=t, conversation=them["conversation"], by=me["operator"], to_membership=me["operator"]
    ),
    "conversation_transfer_to_their_department": lambda t, me, them: services.conversation_transfer(
        tenant=t, conversation=me["conversation"], by=me["operator"], to_department=them["department"]
    ),
    "conversation_close": lambda t, me, them: services.conversation_close(tenant=t, conversation=them["conversation"]),
    "conversation_reopen": lambda t, me, them: services.conversation_reopen(
        tenant=t, conversation=them["conversation"]
    ),
    "conversation_rate": lambda t, me, them: services.conversation_rate(
        tenant=t, conversation=them["conversation"], rating="good"
    ),
    "attachment_upload": lambda t, me, them: services.attachment_upload(
        tenant=t, conversation=them["conversation"], file=pdf(), uploader_side="visitor"
    ),
    "conversation_for_visitor": lambda t, me, them: selectors.conversation_for_visitor(
        tenant=t, visitor=me["visitor"], conversation_id=them["conversation"].pk
    ),
    "conversation_for_visitor_as_their_visitor": lambda t, me, them: selectors.conversation_for_visitor(
        tenant=t, visitor=them["visitor"], conversation_id=them["conversation"].pk
    ),
    "conversation_for_operator": lambda t, me, them: selectors.conversation_for_operator(
        tenant=t, membership=me["operator"], conversation_id=them["conversation"].pk
    ),
    "conversation_for_operator_as_their_operator": lambda t, me, them: selectors.conversation_for_operator(
        tenant=t, membership=them["operator"], conversation_id=me["conversation"].pk
    ),
    "conversation_list_for_operator": lambda t, me, them: selectors.conversation_list_for_operator(
        tenant=t, membership=them["operator"], box="queued"
    ),
}


def counts():
    with scopes_disabled():
        return [m.objects.count() for m in (Visitor, PageView, VisitorNote, Conversation, Message, Attachment)]


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_another_tenants_object_is_not_found_and_nothing_changes(
    call, tenant, visitor, operator, theirs, settings, tmp_path, layer, publish
):
    settings.MEDIA_ROOT = tmp_path
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant, visitor=visitor)
    mine = {"conversation": conversation, "visitor": visitor, "operator": operator}
    before = counts()
    with publish() as callbacks, pytest.raises(NotFound) as exc:
        call(tenant, mine, theirs)
    assert exc.value.code == "not_found"
    assert counts() == before
    assert callbacks == [] and layer.sent == []
    with scopes_disabled():
        other = Conversation.objects.get(pk=theirs["conversation"].pk)
    assert (other.status, other.last_seq, other.assignee_id, other.rating) == ("queued", 0, None, "")


WIDGET_REQUESTS = {
    "messages": lambda c, h, conv: c.get(f"/widget/api/messages?conversation={conv.pk}&after=0", headers=h),
    "upload": lambda c, h, conv: c.post(
        "/widget/api/upload", data={"file": pdf(), "conversation": str(conv.pk)}, headers=h
    ),
    "send": lambda c, h, conv: c.post(
        "/widget/api/messages",
        data=json.dumps({"client_id": "iso-1", "body": "hi", "conversation": conv.pk}),
        content_type="application/json",
        headers=h,
    ),
}


@pytest.mark.parametrize("request_", WIDGET_REQUESTS.values(), ids=WIDGET_REQUESTS.keys())
def test_widget_endpoints_answer_another_tenants_conversation_with_404(
    request_, client, tenant, visitor, theirs, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    token = visitor_token_issue(tenant=tenant, visitor=visitor)
    # From the chat iframe (Parley's own origin): a write without an Origin is refused before any look-up.
    headers = {"Authorization": f"Bearer {token}", "Origin": settings.PARLEY_BASE_URL}
    response = request_(client, headers, theirs["conversation"])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_another_tenants_attachment_is_404_for_visitors_and_operators(
    client, tenant, visitor, operator, theirs, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    attachment = services.attachment_upload(
        tenant=theirs["conversation"].tenant, conversation=theirs["conversation"], file=pdf(), uploader_side="visitor"
    )
    token = visitor_token_issue(tenant=tenant, visitor=visitor)
    url = f"/widget/api/attachments/{attachment.token}"
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 404
    client.force_login(operator.user)
    assert client.get(url).status_code == 404
