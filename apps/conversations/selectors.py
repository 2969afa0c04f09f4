"""Reads shared by views, consumers and the API.

Every selector that fetches by id loads through the tenant's scope and answers
"missing", "another tenant's" and "another visitor's" with the same `NotFound`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from apps.accounts.models import Membership, Tenant
from apps.conversations import frames
from apps.conversations.errors import Forbidden, NotFound
from apps.conversations.models import Attachment, Conversation, Message, Visitor
from apps.core.ids import parse_id
from apps.core.tenancy import scopes_disabled, tenant_scope

Box = Literal["queued", "mine", "open", "closed"]

OPEN_STATUSES = Conversation.OPEN_STATUSES
MESSAGES_MAX = 500
LIST_MAX = 200
# Messages per database call when a socket resumes (replay_page).
RESUME_PAGE = 500


def object_id(value: Any) -> int:
    """A client-sent id (`apps.core.ids.parse_id`), else NotFound: a malformed id names nothing."""
    parsed = parse_id(value)
    if parsed is None:
        raise NotFound()
    return parsed


def conversation_for_visitor(*, tenant: Tenant, visitor: Visitor, conversation_id: Any) -> Conversation:
    if visitor.tenant_id != tenant.pk:
        raise NotFound()
    conversation_id = object_id(conversation_id)
    with tenant_scope(tenant):
        conversation = (
            Conversation.objects.filter(pk=conversation_id, tenant=tenant, visitor=visitor)
            .select_related("assignee__user")
            .first()
        )
    if conversation is None:
        raise NotFound()
    conversation.visitor = visitor
    return conversation


def conversation_for_operator(*, tenant: Tenant, membership: Membership, conversation_id: Any) -> Conversation:
    """Any conversation of the operator's tenant (every operator of a tenant may see its chats)."""
    if membership.tenant_id != tenant.pk or not membership.is_active:
        raise NotFound()
    conversation_id = object_id(conversation_id)
    with tenant_scope(tenant):
        conversation = (
            Conversation.objects.filter(pk=conversation_id, tenant=tenant)
            .select_related("visitor", "assignee__user", "department")
            .first()
        )
    if conversation is None:
        raise NotFound()
    return conversation


def messages_after(
    *, conversation: Conversation, after_seq: int, include_private: bool, limit: int = MESSAGES_MAX
) -> list[Message]:
    """Messages with `seq > after_seq` in order (what a client that saw `after_seq` missed).

    `include_private=False` (a visitor) leaves out notes. Attachments and authors are prefetched.
    """
    if type(after_seq) is not int or after_seq < 0:
        after_seq = 0
    limit = max(1, min(int(limit), MESSAGES_MAX))
    with tenant_scope(conversation.tenant_id):
        queryset = (
            Message.objects.filter(tenant_id=conversation.tenant_id, conversation_id=conversation.pk, seq__gt=after_seq)
            .select_related("author__user")
            .prefetch_related(
                Prefetch(
                    "attachments",
                    queryset=Attachment.objects.filter(tenant_id=conversation.tenant_id).order_by("created_at", "pk"),
                )
            )
            .order_by("seq")
        )
        if not include_private:
            queryset = queryset.exclude(kind=Message.Kind.NOTE)
        messages = list(queryset[:limit])
    for message in messages:
        message.conversation = conversation
    return messages


def messages_before(
    *, conversation: Conversation, before_seq: int | None, include_private: bool, limit: int
) -> tuple[list[Message], bool]:
    """The newest `limit` messages with `seq < before_seq` (all when None), in seq order, and
    whether older ones remain: a conversation opens at its newest page and pages back from there.
    """
    limit = max(1, min(int(limit), MESSAGES_MAX))
    with tenant_scope(conversation.tenant_id):
        queryset = (
            Message.objects.filter(tenant_id=conversation.tenant_id, conversation_id=conversation.pk)
            .select_related("author__user")
            .prefetch_related(
                Prefetch(
                    "attachments",
                    queryset=Attachment.objects.filter(tenant_id=conversation.tenant_id).order_by("created_at", "pk"),
                )
            )
            .order_by("-seq")
        )
        if before_seq is not None:
            queryset = queryset.filter(seq__lt=before_seq)
        if not include_private:
            queryset = queryset.exclude(kind=Message.Kind.NOTE)
        page = list(queryset[: limit + 1])
    has_older = len(page) > limit
    messages = page[:limit][::-1]
    for message in messages:
        message.conversation = conversation
    return messages, has_older


def open_conversation_for_visitor(*, tenant: Tenant, visitor: Visitor) -> Conversation | None:
    """The visitor's newest conversation that is not closed, if any."""
    if visitor.tenant_id != tenant.pk:
        return None
    with tenant_scope(tenant):
        conversation = (
            Conversation.objects.filter(tenant=tenant, visitor=visitor, status__in=OPEN_STATUSES)
            .select_related("assignee__user")
            .order_by("-created_at", "-pk")
            .first()
        )
    if conversation is not None:
        conversation.visitor = visitor
    return conversation


def _box_filter(box: Box, membership: Membership) -> Q:
    if box == "queued":
        return Q(status=Conversation.Status.QUEUED)
    if box == "mine":
        return Q(assignee=membership, status__in=(Conversation.Status.OPEN, Conversation.Status.PENDING))
    if box == "open":
        return Q(status__in=(Conversation.Status.OPEN, Conversation.Status.PENDING))
    if box == "closed":
        return Q(status=Conversation.Status.CLOSED)
    raise NotFound()


def conversation_list_queryset(*, tenant: Tenant, membership: Membership, box: Box) -> QuerySet[Conversation]:
    """Conversations of one dashboard box, with `unread` = the visitor's messages the operators have not read.

    Call inside the tenant's scope. One query whatever the number of rows.
    """
    unread = (
        Message.objects.filter(
            tenant_id=tenant.pk,
            conversation=OuterRef("pk"),
            author_type=Message.Author.VISITOR,
            seq__gt=OuterRef("operator_read_seq"),
        )
        .order_by()
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Conversation.objects.filter(_box_filter(box, membership), tenant=tenant)
        .select_related("visitor", "assignee__user", "department")
        .annotate(unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)))
        .order_by("-last_message_at", "-pk")
    )


def conversation_list_for_operator(
    *, tenant: Tenant, membership: Membership, box: Box, limit: int = 50, before: datetime | None = None
) -> list[Conversation]:
    """A page of a box, newest activity first; `before` (a `last_message_at`) pages back. One query."""
    if membership.tenant_id != tenant.pk:
        raise NotFound()
    limit = max(1, min(int(limit), LIST_MAX))
    with tenant_scope(tenant):
        queryset = conversation_list_queryset(tenant=tenant, membership=membership, box=box)
        if before is not None:
            queryset = queryset.filter(last_message_at__lt=before)
        return list(queryset[:limit])


def operator_load(*, tenant: Tenant, membership_id: int) -> Membership:
    """A socket's membership, reloaded: a deactivated operator (or user) loses access at once (`Forbidden`)."""
    membership = (
        Membership.objects.select_related("user", "tenant")
        .filter(pk=membership_id, tenant=tenant, is_active=True)
        .first()
    )
    if membership is None or not membership.user.is_active:
        raise Forbidden()
    return membership


# Conversations an operator socket follows as their assignee from connect (the newest first).
ASSIGNED_FOLLOWED_MAX = 200


def operator_assigned_conversation_ids(*, tenant: Tenant, membership_id: int) -> list[int]:
    """The not-closed conversations assigned to the operator: their socket joins each one's `c<id>.ops`."""
    with tenant_scope(tenant):
        return list(
            Conversation.objects.filter(tenant=tenant, assignee_id=membership_id, status__in=OPEN_STATUSES)
            .order_by("-last_message_at")
            .values_list("pk", flat=True)[:ASSIGNED_FOLLOWED_MAX]
        )


def replay_page(
    *, conversation: Conversation, after_seq: int, audience: frames.Audience
) -> tuple[list[str], int, int | None]:
    """One page of the messages after `after_seq`, in seq order, serialised for `audience` (no notes for a visitor).

    Returns `(frames, the conversation's last seq, the seq to continue after or None when done)`.
    The last seq is read before the messages, so every message up to it is in this page or an earlier one.
    """
    page = messages_after(
        conversation=conversation, after_seq=after_seq, include_private=audience == "operator", limit=RESUME_PAGE
    )
    texts = [
        frames.dumps(frames.message_frame(message, audience=audience))
        for message in page
        # Defence in depth: messages_after already leaves notes out for a visitor.
        if audience == "operator" or not message.is_private
    ]
    return texts, conversation.last_seq, (page[-1].seq if len(page) >= RESUME_PAGE else None)


def visitor_replay_page(
    *, tenant: Tenant, visitor: Visitor, conversation_id: Any, after_seq: int
) -> tuple[list[str], int, int | None]:
    conversation = conversation_for_visitor(tenant=tenant, visitor=visitor, conversation_id=conversation_id)
    return replay_page(conversation=conversation, after_seq=after_seq, audience="visitor")


def operator_replay_page(
    *, tenant: Tenant, membership_id: int, conversation_id: Any, after_seq: int
) -> tuple[list[str], int, int | None]:
    with tenant_scope(tenant):
        membership = operator_load(tenant=tenant, membership_id=membership_id)
    conversation = conversation_for_operator(tenant=tenant, membership=membership, conversation_id=conversation_id)
    return replay_page(conversation=conversation, after_seq=after_seq, audience="operator")


def visitor_conversations_owned(*, tenant: Tenant, visitor: Visitor, conversation_ids: list[int]) -> list[int]:
    """The ids among `conversation_ids` that are this visitor's (one query)."""
    if visitor.tenant_id != tenant.pk or not conversation_ids:
        return []
    with tenant_scope(tenant):
        owned = set(
            Conversation.objects.filter(tenant=tenant, visitor=visitor, pk__in=conversation_ids).values_list(
                "pk", flat=True
            )
        )
    return [conversation_id for conversation_id in conversation_ids if conversation_id in owned]


def operator_replies_unsent(*, channel: str, outbound_model, now: datetime, after, window) -> list[Message]:
    """Operator replies in `channel` conversations, older than `after` and within `window`, that no
    row of `outbound_model` (a channel's outbox with a `chat_message` key) covers: what a channel's
    sweeper queues when a write path sent no signal. Across tenants (a beat task), oldest first."""
    with scopes_disabled():
        covered = outbound_model.objects.filter(
            chat_message__isnull=False, created_at__gte=now - window - after
        ).values("chat_message_id")
        return list(
            Message.objects.filter(
                conversation__channel=channel,
                author_type=Message.Author.OPERATOR,
                kind__in=[Message.Kind.TEXT, Message.Kind.ATTACHMENT],
                created_at__lt=now - after,
                created_at__gte=now - window,
            )
            .exclude(pk__in=Subquery(covered))
            .select_related("tenant", "author__user")
            .order_by("created_at")[:500]
        )
