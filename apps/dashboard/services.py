"""State changes the dashboard owns: the operator's availability, proactive
invitations to visitors, and inviting a colleague into a chat.

Conversation and message writes go through apps.conversations.services; these
functions only compose them and publish the dashboard's own events (which register
themselves on commit).
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts.models import Membership, Tenant
from apps.conversations import services as conversation_services
from apps.conversations.errors import BadInput, NotFound
from apps.conversations.models import Conversation, Message, Visitor
from apps.conversations.selectors import open_conversation_for_visitor
from apps.routing import presence as routing_presence

from . import events
from .models import OperatorStatus


def operator_status_set(*, tenant: Tenant, membership: Membership, status: str) -> OperatorStatus:
    """Switch an operator online, paused or offline (routing owns presence: apps.routing.presence)."""
    return routing_presence.presence_set(tenant=tenant, membership=membership, status=status)


def visitor_invite(
    *, tenant: Tenant, visitor: Visitor, operator: Membership, body: str, client_id: str = ""
) -> Conversation:
    """A proactive chat: the operator writes first to a visitor on the site.

    Starts a conversation assigned to the inviting operator (accepting it puts it in their
    "mine" list; the widget shows the first message as an invitation) and sends the text.
    Inviting a visitor who already has an open chat reuses that chat.
    """
    body = (body or "").strip() or _("Hello! Can I help you with anything?")
    client_id = client_id or f"invite-{secrets.token_hex(8)}"
    with transaction.atomic():
        conversation = open_conversation_for_visitor(tenant=tenant, visitor=visitor)
        if conversation is None:
            # conversation_start tells the visitor's open widget sockets to follow it, before the
            # message's own broadcast (the widget also finds it on its next resume or page load).
            conversation = conversation_services.conversation_start(tenant=tenant, visitor=visitor)
        if conversation.status == Conversation.Status.QUEUED:
            conversation = conversation_services.conversation_accept(
                tenant=tenant, conversation=conversation, membership=operator
            )
        conversation_services.message_send(
            tenant=tenant,
            conversation=conversation,
            author_type=Message.Author.OPERATOR,
            author=operator,
            body=body,
            client_id=client_id,
        )
        events.visitor_invited(tenant_id=tenant.pk, visitor_id=visitor.pk, conversation_id=conversation.pk)
    return conversation


def conversation_invite_colleague(
    *, tenant: Tenant, conversation: Conversation, by: Membership, colleague: Membership
) -> Message:
    """Ask a colleague to join a chat: a private note records it (visitors never see notes),
    and the colleague's sockets get a personal notice."""
    if colleague.tenant_id != tenant.pk or not colleague.is_active:
        raise NotFound()
    if colleague.pk == by.pk:
        raise BadInput(_("You are already in this chat."), field="operator")
    names = {"by": by.name_for_team, "colleague": colleague.name_for_team}
    message, _created = conversation_services.message_send(
        tenant=tenant,
        conversation=conversation,
        author_type=Message.Author.OPERATOR,
        author=by,
        kind=Message.Kind.NOTE,
        body=_("%(by)s invited %(colleague)s to the chat.") % names,
        client_id=f"invite-{secrets.token_hex(8)}",
        data={"event": "invited", **names, "colleague_id": colleague.pk},
    )
    events.colleague_invited(user_id=colleague.user_id, conversation_id=conversation.pk, by_name=by.name_for_team)
    return message
