"""Conversations: started (one place), routed, accepted, assigned, transferred, closed, reopened, rated, edited.

`conversation_start` is the only place a conversation begins, whoever begins it (the
visitor's first message, the contact form, an operator's invitation, an email). It
alone tells the visitor's open widget sockets to follow the new conversation, and it
alone asks routing who gets it (`conversation_route`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Department, Membership, Tenant
from apps.conversations import events
from apps.conversations.errors import BadInput, Conflict, ConversationClosed
from apps.conversations.frames import operator_public_name
from apps.conversations.models import Conversation, Message, Visitor
from apps.conversations.services import cleaning
from apps.conversations.services.cleaning import BODY_MAX_CHARS, SERVER_CLIENT_ID_PREFIX
from apps.conversations.services.guards import active_member, conversation_lock, in_tenant_scope, own
from apps.conversations.services.messages import message_append, system_message
from apps.routing import hooks as routing


@functools.cache
def _router(path: str) -> Callable[..., None] | None:
    return import_string(path) if path else None


def conversation_route(*, tenant: Tenant, conversation: Conversation) -> None:
    """Decide who gets a conversation that has just started (inside its transaction).

    The routing app plugs in here by naming its function in the setting
    `PARLEY_CONVERSATION_ROUTER` (a dotted path to `fn(*, tenant, conversation)`). Without
    one the conversation waits in the shared queue (status `queued`) until an operator
    accepts it.
    """
    router = _router(getattr(settings, "PARLEY_CONVERSATION_ROUTER", "") or "")
    if router is not None:
        router(tenant=tenant, conversation=conversation)


@in_tenant_scope
def conversation_start(
    *,
    tenant: Tenant,
    visitor: Visitor,
    channel: str = Conversation.Channel.WIDGET,
    department: Department | None = None,
    subject: str = "",
) -> Conversation:
    """Start a conversation for `visitor`, queued.

    On commit, in this order: `conversation created` to the operators, `visitor.follow` to
    the visitor's open widget sockets (their other tabs hear the chat from its first
    message on), then whatever routing decided.
    """
    own(tenant, visitor)
    if department is not None:
        own(tenant, department)
    if channel not in Conversation.Channel.values:
        raise BadInput(_("Unknown channel."), field="channel")
    subject = cleaning.text(subject, field="subject", max_chars=300)
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.create(
            tenant=tenant,
            visitor=visitor,
            channel=channel,
            department=department,
            subject=subject,
            status=Conversation.Status.QUEUED,
            created_at=now,
            last_message_at=now,
        )
        events.conversation_changed(conversation, "created")
        events.visitor_followed(visitor_id=visitor.pk, conversation_id=conversation.pk)
        conversation_route(tenant=tenant, conversation=conversation)
    return conversation


@in_tenant_scope
def conversation_update(
    *,
    tenant: Tenant,
    conversation: Conversation,
    subject: str | None = None,
    department: Department | None = None,
    clear_department: bool = False,
) -> Conversation:
    """Edit what an admin may edit in place (subject, department); open dashboards hear `updated`.

    Only the named fields are written: messages keep arriving meanwhile and move `last_seq`.
    Moving a conversation between operators is `conversation_assign` / `conversation_transfer`.
    """
    changes: dict[str, object] = {}
    if subject is not None:
        changes["subject"] = cleaning.text(subject, field="subject", max_chars=300)
    if department is not None:
        own(tenant, department)
        changes["department"] = department
    elif clear_department:
        changes["department"] = None
    with transaction.atomic():
        locked = conversation_lock(tenant, conversation)
        changed = [name for name, value in changes.items() if getattr(locked, name) != value]
        if not changed:
            return locked
        for name in changed:
            setattr(locked, name, changes[name])
        locked.save(update_fields=changed)
        events.conversation_changed(locked, "updated")
    return locked


@in_tenant_scope
def conversation_accept(*, tenant: Tenant, conversation: Conversation, membership: Membership) -> Conversation:
    """An operator takes a queued chat. Accepting one you already have is a no-op; someone else's is a Conflict."""
    active_member(tenant, membership)
    with transaction.atomic():
        locked = conversation_lock(tenant, conversation)
        if locked.is_closed:
            raise ConversationClosed()
        if locked.assignee_id == membership.pk and locked.status != Conversation.Status.QUEUED:
            return locked
        if locked.status != Conversation.Status.QUEUED:
            raise Conflict(_("Another operator already accepted this chat."))
        _take(tenant, locked, membership, system_line="accepted")
    return locked


@in_tenant_scope
def conversation_assign(
    *, tenant: Tenant, conversation: Conversation, assignee: Membership, by: Membership | None = None
) -> Conversation:
    """Give the chat to `assignee` (an admin's or the router's decision)."""
    active_member(tenant, assignee)
    if by is not None:
        active_member(tenant, by)
    with transaction.atomic():
        locked = conversation_lock(tenant, conversation)
        if locked.is_closed:
            raise ConversationClosed()
        if locked.assignee_id == assignee.pk and locked.status != Conversation.Status.QUEUED:
            return locked
        _take(tenant, locked, assignee, system_line="assigned")
    return locked


def _take(tenant: Tenant, locked: Conversation, membership: Membership, *, system_line: str) -> None:
    """`membership` now has the (locked, open) chat: the system line, routing's bookkeeping, the events."""
    locked.assignee = membership
    locked.status = Conversation.Status.OPEN
    message = system_message(tenant, locked, system_line, name=operator_public_name(membership))
    locked.save(update_fields=["assignee", "status", "last_seq"])
    routing.conversation_taken(tenant=tenant, conversation=locked, membership=membership)
    events.message_created(message)
    events.conversation_changed(locked, "assigned")


@in_tenant_scope
def conversation_transfer(
    *,
    tenant: Tenant,
    conversation: Conversation,
    by: Membership,
    to_membership: Membership | None = None,
    to_department: Department | None = None,
    note: str = "",
) -> Conversation:
    """Hand the chat to another operator (it stays open) or to a department (it goes back to the queue).

    The optional note becomes a private note by `by`; the visitor sees only who now handles the chat.
    """
    active_member(tenant, by)
    if to_membership is None and to_department is None:
        raise BadInput(_("Choose an operator or a department."), field="to")
    if to_membership is not None:
        active_member(tenant, to_membership)
    if to_department is not None:
        own(tenant, to_department)
    note = cleaning.text(note, field="note", max_chars=BODY_MAX_CHARS, multiline=True)
    with transaction.atomic():
        locked = conversation_lock(tenant, conversation)
        if locked.is_closed:
            raise ConversationClosed()
        update_fields = ["assignee", "status", "last_seq"]
        if to_department is not None:
            locked.department = to_department
            update_fields.append("department")
        if to_membership is not None:
            locked.assignee = to_membership
            locked.status = Conversation.Status.OPEN
            target, name = "operator", operator_public_name(to_membership)
        else:
            locked.assignee = None
            locked.status = Conversation.Status.QUEUED
            target, name = "department", to_department.name
        created = [system_message(tenant, locked, "transferred", name=name, to=target)]
        if note:
            created.append(
                message_append(
                    tenant,
                    locked,
                    author_type=Message.Author.OPERATOR,
                    author=by,
                    kind=Message.Kind.NOTE,
                    body=note,
                    client_id=f"{SERVER_CLIENT_ID_PREFIX}note-{locked.last_seq + 1}",
                )
            )
        locked.save(update_fields=update_fields)
        if to_membership is not None:
            routing.conversation_taken(tenant=tenant, conversation=locked, membership=to_membership)
        routing.conversation_transferred(tenant=tenant, conversation=locked)
        for message in created:
            events.message_created(message)
        events.conversation_changed(locked, "transferred")
    return locked


@in_tenant_scope
def conversation_close(*, tenant: Tenant, conversation: Conversation, by: Membership | None = None) -> Conversation:
    """Close the chat (by an operator, or by the visitor/system when `by` is None). Closing twice is a no-op."""
    if by is not None:
        active_member(tenant, by)
    with transaction.atomic():
        locked = conversation_lock(tenant, conversation)
        if locked.is_closed:
            return locked
        locked.status = Conversation.Status.CLOSED
        locked.closed_at = timezone.now()
        message = system_message(tenant, locked, "closed", name=operator_public_name(by) if by else "")
        locked.save(update_fields=["status", "closed_at", "last_seq"])
        routing.conversation_closed(tenant=tenant, conversation=locked, by=by)
        events.message_created(message)
        events.conversation_changed(locked, "closed")
    return locked


@in_tenant_scope
def conversation_reopen(*, tenant: Tenant, conversation: Conversation, by: Membership | None = None) -> Conversation:
    """Reopen a closed chat: open again with its operator, or back in the queue without one."""
    if by is not None:
        active_member(tenant, by)
    with transaction.atomic():
        locked = conversation_lock(tenant, conversation)
        if not locked.is_closed:
            return locked
        locked.status = Conversation.Status.OPEN if locked.assignee_id else Conversation.Status.QUEUED
        locked.closed_at = None
        message = system_message(tenant, locked, "reopened", name=operator_public_name(by) if by else "")
        locked.save(update_fields=["status", "closed_at", "last_seq"])
        routing.conversation_reopened(tenant=tenant, conversation=locked)
        events.message_created(message)
        events.conversation_changed(locked, "reopened")
    return locked


@in_tenant_scope
def conversation_rate(*, tenant: Tenant, conversation: Conversation, rating: str, comment: str = "") -> Conversation:
    """The visitor's verdict; rating again replaces the previous one."""
    if rating not in Conversation.Rating.values:
        raise BadInput(_("rating must be good or bad."), field="rating")
    comment = cleaning.text(comment, field="comment", max_chars=2000, multiline=True)
    with transaction.atomic():
        locked = conversation_lock(tenant, conversation)
        if locked.rating == rating and locked.rating_comment == comment:
            return locked
        locked.rating = rating
        locked.rating_comment = comment
        message = system_message(tenant, locked, "rated", rating=rating)
        locked.save(update_fields=["rating", "rating_comment", "last_seq"])
        events.message_created(message)
        events.conversation_changed(locked, "rated")
    return locked
