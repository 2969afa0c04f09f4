"""What an operator does in a conversation from the dashboard's socket, by ids: send, note, read, act.

Each loads the operator (a deactivated one loses access at once) and the conversation
through the tenant's scope (another tenant's is `NotFound`), then calls the one service
that owns the write. The socket only parses frames and calls these.
"""

from __future__ import annotations

from typing import Any, Literal

from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Department, Membership, Tenant
from apps.conversations import selectors
from apps.conversations.errors import BadInput, NotFound
from apps.conversations.models import Conversation, Message
from apps.conversations.services.conversations import (
    conversation_accept,
    conversation_close,
    conversation_reopen,
    conversation_transfer,
)
from apps.conversations.services.guards import in_tenant_scope, operator_load
from apps.conversations.services.messages import message_mark_read, message_send, note_add

Action = Literal["accept", "close", "reopen", "transfer"]
ACTIONS = ("accept", "close", "reopen", "transfer")


def _conversation(tenant: Tenant, membership: Membership, conversation_id: Any) -> Conversation:
    return selectors.conversation_for_operator(tenant=tenant, membership=membership, conversation_id=conversation_id)


@in_tenant_scope
def operator_conversation_check(*, tenant: Tenant, membership_id: int, conversation_id: Any) -> None:
    """`NotFound` unless the operator (still active) may see the conversation."""
    _conversation(tenant, operator_load(tenant=tenant, membership_id=membership_id), conversation_id)


@in_tenant_scope
def operator_message_send(
    *,
    tenant: Tenant,
    membership_id: int,
    conversation_id: Any,
    client_id: Any,
    body: Any,
    kind: Any = Message.Kind.TEXT,
    attachment_tokens: Any = (),
) -> Message:
    """An operator's reply (`text`, files allowed) or private note (`note`, text only), once per client id."""
    if kind not in (Message.Kind.TEXT, Message.Kind.NOTE):
        raise BadInput(_("kind must be text or note."), field="kind")
    if kind == Message.Kind.NOTE and attachment_tokens:
        raise BadInput(_("A note cannot carry files."), field="attachments")
    membership = operator_load(tenant=tenant, membership_id=membership_id)
    conversation = _conversation(tenant, membership, conversation_id)
    if kind == Message.Kind.NOTE:
        message, _created = note_add(
            tenant=tenant, conversation=conversation, author=membership, body=body, client_id=client_id
        )
    else:
        message, _created = message_send(
            tenant=tenant,
            conversation=conversation,
            author_type=Message.Author.OPERATOR,
            author=membership,
            body=body,
            client_id=client_id,
            attachment_tokens=attachment_tokens,
        )
    return message


@in_tenant_scope
def operator_conversation_read(*, tenant: Tenant, membership_id: int, conversation_id: Any, seq: Any) -> None:
    conversation = _conversation(tenant, operator_load(tenant=tenant, membership_id=membership_id), conversation_id)
    message_mark_read(tenant=tenant, conversation=conversation, side="operator", seq=seq)


def _transfer_target(model: type, target_id: Any) -> Any:
    if target_id is None:
        return None
    queryset = model.objects.all()
    if model is Membership:
        queryset = queryset.filter(is_active=True).select_related("user")
    target = queryset.filter(pk=selectors.object_id(target_id)).first()
    if target is None:
        raise NotFound()
    return target


@in_tenant_scope
def operator_conversation_act(
    *,
    tenant: Tenant,
    membership_id: int,
    conversation_id: Any,
    action: Action,
    to_operator: Any = None,
    to_department: Any = None,
    note: Any = "",
) -> Conversation:
    """One conversation action by this operator: accept, close, reopen, or transfer (to an operator or a department)."""
    if action not in ACTIONS:
        raise BadInput(_("Unknown action."), field="type")
    if action == "transfer" and to_operator is None and to_department is None:
        raise BadInput(_("Name an operator or a department to transfer to."), field="to_operator")
    membership = operator_load(tenant=tenant, membership_id=membership_id)
    conversation = _conversation(tenant, membership, conversation_id)
    if action == "accept":
        return conversation_accept(tenant=tenant, conversation=conversation, membership=membership)
    if action == "close":
        return conversation_close(tenant=tenant, conversation=conversation, by=membership)
    if action == "reopen":
        return conversation_reopen(tenant=tenant, conversation=conversation, by=membership)
    return conversation_transfer(
        tenant=tenant,
        conversation=conversation,
        by=membership,
        to_membership=_transfer_target(Membership, to_operator),
        to_department=_transfer_target(Department, to_department),
        note=note,
    )
