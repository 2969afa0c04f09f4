"""The one way in for a visitor's message: `services.visitor_message_receive`."""

import pytest
from django_scopes import scopes_disabled

from apps.conversations import services
from apps.conversations.errors import BadInput, ConversationClosed, NotFound
from apps.conversations.models import Conversation, Message
from tests import factories

pytestmark = pytest.mark.django_db


def receive(tenant, visitor, client_id="m-1", body="Hello", **kwargs):
    return services.visitor_message_receive(tenant=tenant, visitor=visitor, client_id=client_id, body=body, **kwargs)


def conversations_of(visitor):
    with scopes_disabled():
        return list(Conversation.objects.filter(visitor=visitor).order_by("pk"))


def test_a_first_message_starts_a_queued_conversation_and_the_next_goes_into_it(tenant, visitor, publish, layer):
    with publish():
        first = receive(tenant, visitor)
    assert (first.started, first.created, first.message.seq, first.conversation.status) == (True, True, 1, "queued")
    assert layer.sent[[g for g, _ in layer.sent].index(f"v{visitor.pk}")][1] == {
        "type": "visitor.follow",
        "conversation": first.conversation.pk,
    }
    second = receive(tenant, visitor, client_id="m-2", current_conversation_id=first.conversation.pk)
    third = receive(tenant, visitor, client_id="m-3")  # no hint: the open conversation is found
    assert {second.conversation.pk, third.conversation.pk} == {first.conversation.pk}
    assert (second.started, third.started, third.message.seq) == (False, False, 3)
    assert len(conversations_of(visitor)) == 1


def test_a_resend_is_the_same_message_even_after_its_conversation_closed(tenant, visitor, operator):
    first = receive(tenant, visitor, client_id="once")
    services.conversation_close(tenant=tenant, conversation=first.conversation, by=operator)
    again = receive(tenant, visitor, client_id="once")
    assert (again.created, again.message.pk, again.conversation.pk) == (False, first.message.pk, first.conversation.pk)
    assert len(conversations_of(visitor)) == 1
    # New words after the close start a new conversation.
    fresh = receive(tenant, visitor, client_id="later", current_conversation_id=first.conversation.pk)
    assert fresh.started and fresh.conversation.pk != first.conversation.pk


def test_a_bad_message_starts_nothing(tenant, visitor):
    for bad in ({"body": ""}, {"body": "x" * 5001}, {"client_id": "has spaces"}, {"attachment_tokens": "abc"}):
        with pytest.raises(BadInput):
            receive(tenant, visitor, **bad)
    assert conversations_of(visitor) == []


def test_another_visitors_conversation_is_not_found_named_and_ignored_as_a_hint(tenant, visitor):
    with scopes_disabled():
        stranger = factories.ConversationFactory(tenant=tenant)
    with pytest.raises(NotFound):
        receive(tenant, visitor, conversation_id=stranger.pk)
    received = receive(tenant, visitor, current_conversation_id=stranger.pk)
    assert received.conversation.pk != stranger.pk and received.started
    with scopes_disabled():
        assert Message.objects.filter(conversation=stranger).count() == 0


def test_another_tenants_visitor_is_not_found(tenant, other_visitor):
    with pytest.raises(NotFound):
        receive(tenant, other_visitor)


def test_a_named_closed_conversation_refuses_new_text(tenant, visitor, operator):
    first = receive(tenant, visitor)
    services.conversation_close(tenant=tenant, conversation=first.conversation, by=operator)
    with pytest.raises(ConversationClosed):
        receive(tenant, visitor, client_id="m-2", conversation_id=first.conversation.pk)


def test_the_contact_form_always_starts_a_conversation(tenant, visitor):
    open_one = receive(tenant, visitor)
    contact = receive(tenant, visitor, client_id="contact-1", new_conversation=True, data={"source": "contact_form"})
    assert contact.started and contact.conversation.pk != open_one.conversation.pk
    assert contact.message.data == {"source": "contact_form"}


def routed_to_first_operator(*, tenant, conversation):
    from apps.accounts.models import Membership

    services.conversation_assign(tenant=tenant, conversation=conversation, assignee=Membership.objects.first())


def test_without_a_router_a_new_conversation_waits_in_the_queue_and_a_router_may_assign_it(
    tenant, visitor, operator, settings
):
    assert receive(tenant, visitor).conversation.status == "queued"
    settings.PARLEY_CONVERSATION_ROUTER = "tests.conversations.test_inbound.routed_to_first_operator"
    routed = receive(tenant, visitor, client_id="m-2", new_conversation=True)
    assert (routed.conversation.status, routed.conversation.assignee_id) == ("open", operator.pk)
    assert routed.message.seq == 2  # after the router's system message
