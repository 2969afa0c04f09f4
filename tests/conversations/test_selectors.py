import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from apps.conversations import selectors, services
from apps.conversations.errors import NotFound
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_visitor_loads_only_their_own_conversation(tenant, visitor, conversation, other_tenant, other_conversation):
    assert selectors.conversation_for_visitor(tenant=tenant, visitor=visitor, conversation_id=conversation.pk) == (
        conversation
    )
    assert selectors.conversation_for_visitor(tenant=tenant, visitor=visitor, conversation_id=str(conversation.pk)) == (
        conversation
    )
    with scopes_disabled():
        stranger = factories.VisitorFactory(tenant=tenant)
        strangers_chat = factories.ConversationFactory(tenant=tenant, visitor=stranger)
    errors = []
    for conversation_id in [strangers_chat.pk, other_conversation.pk, 999999, "abc", None, -1, True, "1e3", 2**70]:
        with pytest.raises(NotFound) as exc:
            selectors.conversation_for_visitor(tenant=tenant, visitor=visitor, conversation_id=conversation_id)
        errors.append((exc.value.code, exc.value.message))
    assert len(set(errors)) == 1  # missing, someone else's, another tenant's: one answer


def test_an_operator_loads_any_conversation_of_their_tenant_only(
    tenant, operator, conversation, other_conversation, other_operator
):
    loaded = selectors.conversation_for_operator(tenant=tenant, membership=operator, conversation_id=conversation.pk)
    assert loaded == conversation
    with pytest.raises(NotFound):
        selectors.conversation_for_operator(tenant=tenant, membership=operator, conversation_id=other_conversation.pk)
    with pytest.raises(NotFound):
        selectors.conversation_for_operator(tenant=tenant, membership=other_operator, conversation_id=conversation.pk)


def test_messages_after_returns_later_messages_in_order_and_hides_notes_from_visitors(tenant, conversation, operator):
    for i in range(3):
        services.message_send(
            tenant=tenant, conversation=conversation, author_type="visitor", body=f"m{i}", client_id=f"c{i}"
        )
    services.note_add(tenant=tenant, conversation=conversation, author=operator, body="internal", client_id="n")
    services.message_send(
        tenant=tenant, conversation=conversation, author_type="operator", author=operator, body="hi", client_id="o"
    )
    visible = selectors.messages_after(conversation=conversation, after_seq=1, include_private=False)
    assert [m.seq for m in visible] == [2, 3, 5]
    everything = selectors.messages_after(conversation=conversation, after_seq=0, include_private=True)
    assert [m.seq for m in everything] == [1, 2, 3, 4, 5]
    assert [
        m.seq for m in selectors.messages_after(conversation=conversation, after_seq=0, include_private=True, limit=2)
    ] == [1, 2]


def test_messages_after_prefetches_attachments(tenant, conversation, django_assert_num_queries):
    for i in range(4):
        services.message_send(
            tenant=tenant, conversation=conversation, author_type="visitor", body=f"m{i}", client_id=f"c{i}"
        )
    with django_assert_num_queries(2):
        messages = selectors.messages_after(conversation=conversation, after_seq=0, include_private=False)
        for message in messages:
            list(message.attachments.all())


def test_open_conversation_for_visitor_ignores_closed_ones(tenant, visitor, other_visitor):
    assert selectors.open_conversation_for_visitor(tenant=tenant, visitor=visitor) is None
    first = services.conversation_start(tenant=tenant, visitor=visitor)
    assert selectors.open_conversation_for_visitor(tenant=tenant, visitor=visitor) == first
    services.conversation_close(tenant=tenant, conversation=first)
    assert selectors.open_conversation_for_visitor(tenant=tenant, visitor=visitor) is None
    assert selectors.open_conversation_for_visitor(tenant=tenant, visitor=other_visitor) is None


def _make_conversations(tenant, operator, count):
    with scopes_disabled():
        for i in range(count):
            visitor = factories.VisitorFactory(tenant=tenant)
            conversation = factories.ConversationFactory(tenant=tenant, visitor=visitor)
            status = "open" if i % 2 else "queued"
            conversation.status = status
            conversation.assignee = operator if status == "open" else None
            conversation.save()
    with scopes_disabled():
        from apps.conversations.models import Conversation

        conversations = list(Conversation.objects.filter(tenant=tenant))
    for conversation in conversations:
        services.message_send(tenant=tenant, conversation=conversation, author_type="visitor", body="hi", client_id="a")


@pytest.mark.parametrize("count", [3, 30])
@pytest.mark.parametrize("box", ["queued", "mine", "open", "closed"])
def test_the_operator_list_takes_one_query_whatever_the_count(tenant, operator, count, box, django_assert_num_queries):
    _make_conversations(tenant, operator, count)
    with django_assert_num_queries(1):
        rows = selectors.conversation_list_for_operator(tenant=tenant, membership=operator, box=box)
        shown = [(r.visitor.name, r.assignee and r.assignee.name_for_team, r.department, r.unread) for r in rows]
    assert len(shown) == len(rows)
    if box in ("mine", "open"):
        assert len(rows) == count // 2
    elif box == "queued":
        assert len(rows) == count - count // 2
    else:
        assert rows == []


def test_unread_counts_only_the_visitors_messages_after_the_operators_read_mark(
    tenant, conversation, operator, other_tenant
):
    def send(i, side="visitor"):
        services.message_send(
            tenant=tenant,
            conversation=conversation,
            author_type=side,
            author=operator if side == "operator" else None,
            body="x",
            client_id=f"c{i}",
        )

    send(1)
    send(2)
    send(3, "operator")
    send(4)
    services.note_add(tenant=tenant, conversation=conversation, author=operator, body="n", client_id="n")
    [row] = selectors.conversation_list_for_operator(tenant=tenant, membership=operator, box="queued")
    assert row.unread == 3
    services.message_mark_read(tenant=tenant, conversation=conversation, side="operator", seq=2)
    [row] = selectors.conversation_list_for_operator(tenant=tenant, membership=operator, box="queued")
    assert row.unread == 1
    with scopes_disabled():
        other_operator = factories.MembershipFactory(tenant=other_tenant)
    assert selectors.conversation_list_for_operator(tenant=other_tenant, membership=other_operator, box="queued") == []


def test_the_operator_list_pages_back_with_before(tenant, operator):
    _make_conversations(tenant, operator, 6)
    first = selectors.conversation_list_for_operator(tenant=tenant, membership=operator, box="queued", limit=2)
    rest = selectors.conversation_list_for_operator(
        tenant=tenant, membership=operator, box="queued", limit=10, before=first[-1].last_message_at
    )
    assert len(first) == 2 and len(rest) == 1
    assert not {c.pk for c in first} & {c.pk for c in rest}
    assert all(c.last_message_at < first[-1].last_message_at for c in rest)
    assert timezone.is_aware(first[0].last_message_at)


def test_the_operator_list_refuses_another_tenants_membership_and_unknown_boxes(tenant, operator, other_operator):
    with pytest.raises(NotFound):
        selectors.conversation_list_for_operator(tenant=tenant, membership=other_operator, box="queued")
    with pytest.raises(NotFound):
        selectors.conversation_list_for_operator(tenant=tenant, membership=operator, box="everything")
