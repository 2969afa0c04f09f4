"""The dashboard's own services: operator status, proactive invitations, inviting a colleague."""

import pytest
from django.core.exceptions import ValidationError
from django_scopes import scopes_disabled

from apps.conversations.errors import NotFound
from apps.conversations.models import Conversation, Message
from apps.dashboard import services
from apps.dashboard.models import OperatorStatus

pytestmark = pytest.mark.django_db


def test_setting_the_same_status_again_broadcasts_nothing(tenant, operator, publish, layer):
    with publish():
        services.operator_status_set(tenant=tenant, membership=operator, status="online")
    with publish():
        services.operator_status_set(tenant=tenant, membership=operator, status="online")
    assert [f["operator"]["status"] for f in layer.frames(f"t{tenant.pk}.ops")] == ["online"]


def test_a_status_is_refused_for_another_tenants_operator_or_an_unknown_value(tenant, other_operator, operator):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.operator_status_set(tenant=tenant, membership=other_operator, status="online")
    with pytest.raises(ValidationError):
        services.operator_status_set(tenant=tenant, membership=operator, status="away")
    with scopes_disabled():
        assert not OperatorStatus.objects.exists()


def test_inviting_a_visitor_with_an_open_chat_reuses_it(tenant, operator, visitor, publish):
    first = services.visitor_invite(tenant=tenant, visitor=visitor, operator=operator, body="Hi!", client_id="a1")
    second = services.visitor_invite(tenant=tenant, visitor=visitor, operator=operator, body="Still there?")
    assert first.pk == second.pk
    with scopes_disabled():
        assert Conversation.objects.filter(visitor=visitor).count() == 1
        bodies = list(Message.objects.filter(conversation=first, author_type="operator").values_list("body", flat=True))
    assert bodies == ["Hi!", "Still there?"]


def test_inviting_another_tenants_visitor_is_not_found(tenant, operator, other_visitor):
    with pytest.raises(NotFound):
        services.visitor_invite(tenant=tenant, visitor=other_visitor, operator=operator, body="Hi!")


def test_a_colleague_of_another_tenant_cannot_be_invited(tenant, operator, other_operator, conversation):
    with pytest.raises(NotFound):
        services.conversation_invite_colleague(
            tenant=tenant, conversation=conversation, by=operator, colleague=other_operator
        )


def test_a_proactive_chat_tells_the_visitors_sockets_to_follow_it_before_the_message(
    tenant, operator, visitor, publish, layer
):
    with publish():
        conversation = services.visitor_invite(tenant=tenant, visitor=visitor, operator=operator, body="Hi!")
    groups = [group for group, _ in layer.sent]
    assert layer.sent[groups.index(f"v{visitor.pk}")][1] == {"type": "visitor.follow", "conversation": conversation.pk}
    first_visitor_message = next(
        i for i, (group, message) in enumerate(layer.sent)
        if group == f"c{conversation.pk}" and '"type":"message"' in message.get("text", "")
    )
    assert groups.index(f"v{visitor.pk}") < first_visitor_message
