"""One way in for a visitor's message, whatever the channel it came through.

The widget's socket and HTTP API, the contact form (and next: email, Telegram, the REST
API) turn their input into one call, `visitor_message_receive`. It

1. checks the message (nothing is written for a bad one),
2. decides the conversation: the one the caller names (the visitor's own, else
   `NotFound`), else the visitor's open one (`Conversation.OPEN_STATUSES`, read by
   `selectors.open_conversation_for_visitor`, the one definition of "open"), else a new
   one started by `conversation_start` (which tells the visitor's other tabs and asks
   routing),
3. stores it once per client id (a resend returns the stored message, wherever it went),
4. returns what the caller acknowledges (`Received`).

Events are registered on commit by the services it calls; the caller publishes nothing.
The same module holds the visitor's other actions in a conversation (read, rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from apps.accounts.models import Tenant
from apps.conversations import selectors
from apps.conversations.errors import ConversationClosed, NotFound
from apps.conversations.models import Conversation, Message, Visitor
from apps.conversations.services.conversations import conversation_rate, conversation_start
from apps.conversations.services.guards import in_tenant_scope, own
from apps.conversations.services.messages import (
    message_check,
    message_mark_read,
    message_store,
    message_store_fast,
)


@dataclass(frozen=True)
class Received:
    """What a channel acknowledges for a visitor's message."""

    conversation: Conversation
    message: Message
    created: bool  # False: a resend of a client id already stored
    started: bool  # the conversation began with this message


def _locked_for_visitor(tenant: Tenant, visitor: Visitor, conversation_id: int) -> Conversation | None:
    conversation = (
        Conversation.objects.select_for_update().filter(pk=conversation_id, tenant=tenant, visitor=visitor).first()
    )
    if conversation is not None:
        conversation.visitor = visitor
    return conversation


def _already_received(tenant: Tenant, visitor: Visitor, client_id: str) -> Message | None:
    """The visitor's message with this client id in any of their conversations (a resend after a close)."""
    message = (
        Message.objects.filter(
            tenant=tenant, conversation__visitor=visitor, author_type=Message.Author.VISITOR, client_id=client_id
        )
        .select_related("conversation")
        .order_by("-pk")
        .first()
    )
    if message is not None:
        message.conversation.visitor = visitor
    return message


@in_tenant_scope
def conversation_open_or_start(
    *, tenant: Tenant, visitor: Visitor, channel: str = Conversation.Channel.WIDGET
) -> tuple[Conversation, bool]:
    """The visitor's open conversation, or a new one: `(conversation, started)`.

    Serialised on the visitor's row, so two tabs sending their first message at once share one chat.
    """
    own(tenant, visitor)
    with transaction.atomic():
        if Visitor.objects.select_for_update().filter(pk=visitor.pk, tenant=tenant).values_list("pk").first() is None:
            raise NotFound()
        conversation = selectors.open_conversation_for_visitor(tenant=tenant, visitor=visitor)
        if conversation is not None:
            return conversation, False
        return conversation_start(tenant=tenant, visitor=visitor, channel=channel), True


@in_tenant_scope
def visitor_conversation_for_input(
    *, tenant: Tenant, visitor: Visitor, conversation_id: Any = None
) -> tuple[Conversation, bool]:
    """Where the visitor's input (a file before its message) goes: the named conversation (theirs, else
    `NotFound`), else the open one or a new one. Returns `(conversation, started)`."""
    if conversation_id not in (None, ""):
        return selectors.conversation_for_visitor(
            tenant=tenant, visitor=visitor, conversation_id=conversation_id
        ), False
    return conversation_open_or_start(tenant=tenant, visitor=visitor)


@in_tenant_scope
def visitor_message_receive(
    *,
    tenant: Tenant,
    visitor: Visitor,
    client_id: Any,
    body: Any,
    attachment_tokens: Any = (),
    conversation_id: Any = None,
    current_conversation_id: int | None = None,
    new_conversation: bool = False,
    kind: str = Message.Kind.TEXT,
    data: dict | None = None,
    channel: str = Conversation.Channel.WIDGET,
) -> Received:
    """Receive a visitor's message: check it, pick or start the conversation, store it once per client id.

    `conversation_id`: the conversation the visitor names (theirs, else `NotFound`; closed: `ConversationClosed`).
    `current_conversation_id`: a hint from a socket that already knows the visitor's open conversation;
    it spares the look-up, and is checked like any client input (another visitor's id is ignored).
    `new_conversation`: always start one (the offline contact form).
    """
    own(tenant, visitor)
    draft = message_check(
        tenant=tenant,
        author_type=Message.Author.VISITOR,
        body=body,
        client_id=client_id,
        kind=kind,
        attachment_tokens=attachment_tokens,
        data=data,
    )
    with transaction.atomic():
        if conversation_id is not None:
            named = selectors.object_id(conversation_id)
            locked = _locked_for_visitor(tenant, visitor, named)
            if locked is None:
                raise NotFound()
            message, created = message_store(tenant=tenant, locked=locked, draft=draft)
            return Received(locked, message, created, False)
        if current_conversation_id is not None and not new_conversation:
            # The hot path: the socket's open conversation, checked by the statement itself.
            hinted = Conversation(pk=current_conversation_id, tenant=tenant, visitor=visitor)
            stored = message_store_fast(tenant=tenant, conversation=hinted, draft=draft, visitor_id=visitor.pk)
            if stored is not None:
                return Received(hinted, *stored, False)
            locked = _locked_for_visitor(tenant, visitor, current_conversation_id)
            if locked is not None:
                try:
                    message, created = message_store(tenant=tenant, locked=locked, draft=draft)
                except ConversationClosed:
                    pass  # closed meanwhile: the visitor's next words start a new chat
                else:
                    return Received(locked, message, created, False)
        # The slow path: find where a resend already went, else the open conversation, else a new one.
        stored = _already_received(tenant, visitor, draft.client_id)
        if stored is not None:
            return Received(stored.conversation, stored, False, False)
        if new_conversation:
            conversation, started = conversation_start(tenant=tenant, visitor=visitor, channel=channel), True
        else:
            conversation, started = conversation_open_or_start(tenant=tenant, visitor=visitor, channel=channel)
        locked = _locked_for_visitor(tenant, visitor, conversation.pk)
        message, created = message_store(tenant=tenant, locked=locked, draft=draft)
        return Received(locked, message, created, started)


@in_tenant_scope
def visitor_conversation_read(*, tenant: Tenant, visitor: Visitor, conversation_id: Any, seq: Any) -> None:
    """The visitor has read their conversation up to `seq`."""
    conversation = selectors.conversation_for_visitor(tenant=tenant, visitor=visitor, conversation_id=conversation_id)
    message_mark_read(tenant=tenant, conversation=conversation, side="visitor", seq=seq)


@in_tenant_scope
def visitor_conversation_rate(
    *, tenant: Tenant, visitor: Visitor, conversation_id: Any, rating: Any, comment: Any = ""
) -> Conversation:
    conversation = selectors.conversation_for_visitor(tenant=tenant, visitor=visitor, conversation_id=conversation_id)
    return conversation_rate(tenant=tenant, conversation=conversation, rating=rating, comment=comment)
