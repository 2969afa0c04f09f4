"""Reads only the dashboard needs: the conversation lists, visitors online now,
the visitor card, the transcript, and who can take a transfer.

Every function takes the tenant and loads through the scoped managers, so an id of
another tenant is answered like a missing one (`NotFound`, as in apps.conversations).
Each runs a fixed number of queries, whatever the number of rows.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from apps.accounts.models import Department, Membership, Tenant
from apps.conversations import frames
from apps.conversations.errors import NotFound
from apps.conversations.models import Conversation, Message, PageView, Visitor, VisitorNote
from apps.conversations.selectors import (
    conversation_for_operator,
    conversation_list_for_operator,
    conversation_list_queryset,
    messages_after,
    messages_before,
)
from apps.core.tenancy import tenant_scope

from .models import OperatorStatus

BOXES = ("queued", "mine", "open", "closed")
ONLINE_WINDOW = timedelta(minutes=5)
PREVIEW_CHARS = frames.PREVIEW_CHARS  # one length for the list endpoint and the `list` frames


def as_id(value: Any) -> int:
    """An id a client sent: a positive whole number, else `NotFound` (never a 500)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise NotFound()
    return value


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def visitor_display_name(visitor: Visitor) -> str:
    return visitor.name or visitor.email or ""


# --- conversation lists -------------------------------------------------------------


def last_messages(conversations: list[Conversation]) -> dict[int, Message]:
    """The newest message of each conversation, in one query."""
    if not conversations:
        return {}
    rows = (
        Message.objects.filter(conversation_id__in=[c.pk for c in conversations], seq=F("conversation__last_seq"))
        .only("conversation_id", "seq", "author_type", "kind", "body", "created_at", "data")
        .order_by()
    )
    return {m.conversation_id: m for m in rows}


def dashboard_summary(conversation: Conversation, last: Message | None, unread: int | None = None) -> dict[str, Any]:
    """The operator summary of `frames` (what `conversation` frames carry) plus the list's extras."""
    summary = frames.conversation_summary(conversation, audience="operator", unread=unread)
    if conversation.assignee is not None:
        summary["assignee"]["user"] = conversation.assignee.user_id
    summary["last_message"] = (
        {
            "seq": last.seq,
            "author_type": last.author_type,
            "kind": last.kind,
            "body": last.body[:PREVIEW_CHARS],
            "data": last.data,
            "created_at": iso(last.created_at),
        }
        if last is not None
        else None
    )
    return summary


def conversation_list(
    *, tenant: Tenant, membership: Membership, box: str, limit: int = 50, before: datetime | None = None
) -> dict[str, Any]:
    """The list endpoint's payload: two queries, whatever the number of conversations.

    The queue is served oldest first (who waited longest is answered first) and in one page
    of up to `limit`; the other boxes page back by `last_message_at` with `before`.
    """
    if box == "queued":
        if membership.tenant_id != tenant.pk:
            raise NotFound()
        with tenant_scope(tenant):
            queue = conversation_list_queryset(tenant=tenant, membership=membership, box=box)
            page = list(queue.order_by("created_at", "pk")[:limit])
    else:
        page = conversation_list_for_operator(
            tenant=tenant, membership=membership, box=box, limit=limit, before=before
        )
    with tenant_scope(tenant):
        last = last_messages(page)
    items = [dashboard_summary(c, last.get(c.pk), unread=c.unread) for c in page]
    more = len(items) == limit and box != "queued"
    return {
        "box": box,
        "conversations": items,
        "next_before": items[-1]["last_message_at"] if more else None,
        "now": iso(timezone.now()),
    }


def conversation_get(*, tenant: Tenant, membership: Membership, conversation_id: Any) -> Conversation:
    """Through the tenant scope: another tenant's id raises the same `NotFound` as a missing one."""
    return conversation_for_operator(tenant=tenant, membership=membership, conversation_id=conversation_id)


def _unread(conversation: Conversation) -> int:
    return Message.objects.filter(
        conversation=conversation, author_type=Message.Author.VISITOR, seq__gt=conversation.operator_read_seq
    ).count()


def conversation_detail(*, tenant: Tenant, membership: Membership, conversation_id: Any) -> dict[str, Any]:
    conversation = conversation_get(tenant=tenant, membership=membership, conversation_id=conversation_id)
    with tenant_scope(tenant):
        last = last_messages([conversation])
        unread = _unread(conversation)
    return dashboard_summary(conversation, last.get(conversation.pk), unread=unread)


MESSAGES_PAGE = 50


def conversation_messages(
    *,
    tenant: Tenant,
    membership: Membership,
    conversation_id: Any,
    after: int | None = None,
    before: int | None = None,
    limit: int = MESSAGES_PAGE,
) -> dict[str, Any]:
    """The operator's view of a conversation (notes included), one page in seq order.

    By default the newest `limit` messages, with `has_older` and the `before` cursor for the
    page above them (`?before=<cursor>`); with `after`, what a client that saw `after` missed,
    oldest first, with `has_newer` when the page was full (resync after a gap).
    """
    conversation = conversation_get(tenant=tenant, membership=membership, conversation_id=conversation_id)
    page: dict[str, Any]
    if after is not None:
        messages = messages_after(conversation=conversation, after_seq=after, include_private=True, limit=limit)
        page = {"has_newer": len(messages) == limit, "has_older": False, "before": None}
    else:
        messages, has_older = messages_before(
            conversation=conversation, before_seq=before, include_private=True, limit=limit
        )
        page = {"has_newer": False, "has_older": has_older, "before": messages[0].seq if messages else before}
    with tenant_scope(tenant):
        last = last_messages([conversation])
        unread = _unread(conversation)
    return {
        "conversation": dashboard_summary(conversation, last.get(conversation.pk), unread=unread),
        "messages": [frames.message_payload(m, audience="operator") for m in messages],
        "after": messages[-1].seq if messages else after,
        **page,
    }


# --- visitors -----------------------------------------------------------------------

_BROWSERS = [
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+).*Safari/")),
]
_SYSTEMS = [
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux")),
]


def browser_and_os(user_agent: str) -> tuple[str, str]:
    browser = ""
    for name, pattern in _BROWSERS:
        match = pattern.search(user_agent or "")
        if match:
            browser = f"{name} {match.group(1)}"
            break
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent or "")), "")
    return browser, system


def visitors_online(*, tenant: Tenant, limit: int = 200) -> list[dict[str, Any]]:
    """Visitors seen in the last few minutes, with their page and the chat they are in, if any."""
    now = timezone.now()
    with tenant_scope(tenant):
        open_chat = Conversation.objects.filter(visitor=OuterRef("pk")).exclude(status=Conversation.Status.CLOSED)
        visitors = list(
            Visitor.objects.filter(last_seen_at__gte=now - ONLINE_WINDOW)
            .annotate(in_chat=Exists(open_chat))
            .order_by("-last_seen_at")[:limit]
        )
    rows = []
    for v in visitors:
        browser, system = browser_and_os(v.user_agent)
        rows.append(
            {
                "id": v.pk,
                "name": visitor_display_name(v),
                "current_url": v.current_url,
                "current_title": v.current_title,
                "referrer": v.referrer,
                "visit_started_at": iso(v.visit_started_at),
                "last_seen_at": iso(v.last_seen_at),
                "visit_count": v.visit_count,
                "language": v.language,
                "browser": browser,
                "os": system,
                "in_chat": v.in_chat,
            }
        )
    return rows


def visitor_get(*, tenant: Tenant, visitor_id: Any) -> Visitor:
    visitor_id = as_id(visitor_id)
    with tenant_scope(tenant):
        visitor = Visitor.objects.filter(pk=visitor_id, tenant=tenant).first()
    if visitor is None:
        raise NotFound()
    return visitor


def membership_get(*, tenant: Tenant, membership_id: Any) -> Membership:
    """An active operator of the tenant, named by a client."""
    membership_id = as_id(membership_id)
    with tenant_scope(tenant):
        membership = (
            Membership.objects.filter(pk=membership_id, tenant=tenant, is_active=True).select_related("user").first()
        )
    if membership is None:
        raise NotFound()
    return membership


def visitor_card(*, tenant: Tenant, visitor_id: int, pages: int = 50) -> dict[str, Any]:
    """Everything the operator sees next to a chat: four queries."""
    visitor = visitor_get(tenant=tenant, visitor_id=visitor_id)
    with tenant_scope(tenant):
        views = list(PageView.objects.filter(visitor=visitor).order_by("-viewed_at")[:pages])
        conversations = list(
            Conversation.objects.filter(visitor=visitor).select_related("assignee__user").order_by("-created_at")[:30]
        )
        notes = list(VisitorNote.objects.filter(visitor=visitor).select_related("author__user").order_by("-created_at"))
    browser, system = browser_and_os(visitor.user_agent)
    now = timezone.now()
    online = visitor.last_seen_at >= now - ONLINE_WINDOW
    return {
        "id": visitor.pk,
        "name": visitor.name,
        "email": visitor.email,
        "phone": visitor.phone,
        "avatar_url": visitor.avatar_url,
        "verified": visitor.verified_at is not None,
        "external_id": visitor.external_id,
        "display_name": visitor_display_name(visitor),
        "current_url": visitor.current_url,
        "current_title": visitor.current_title,
        "referrer": visitor.referrer,
        "language": visitor.language,
        "browser": browser,
        "os": system,
        "user_agent": visitor.user_agent,
        "visit_count": visitor.visit_count,
        "first_seen_at": iso(visitor.first_seen_at),
        "last_seen_at": iso(visitor.last_seen_at),
        "visit_started_at": iso(visitor.visit_started_at),
        "online": online,
        "time_on_site": int((visitor.last_seen_at - visitor.visit_started_at).total_seconds()),
        "pages": [{"url": p.url, "title": p.title, "viewed_at": iso(p.viewed_at)} for p in views],
        "conversations": [
            {
                "id": c.pk,
                "status": c.status,
                "created_at": iso(c.created_at),
                "closed_at": iso(c.closed_at),
                "assignee": c.assignee.name_for_team if c.assignee else "",
                "rating": c.rating,
            }
            for c in conversations
        ],
        "notes": [note_payload(n) for n in notes],
    }


def note_payload(note: VisitorNote) -> dict[str, Any]:
    return {
        "id": note.pk,
        "body": note.body,
        "author": note.author.name_for_team if note.author else "",
        "created_at": iso(note.created_at),
    }


# --- operators ----------------------------------------------------------------------


def team(*, tenant: Tenant) -> dict[str, Any]:
    """Operators with their status and departments, for the transfer and invite dialogs."""
    with tenant_scope(tenant):
        members = list(Membership.objects.filter(is_active=True).select_related("user").order_by("created_at"))
        statuses = {s.membership_id: s.status for s in OperatorStatus.objects.all()}
        departments = list(Department.objects.order_by("name"))
    return {
        "operators": [
            {
                "id": m.pk,
                "user": m.user_id,
                "name": m.name_for_team,
                "status": statuses.get(m.pk, OperatorStatus.Status.OFFLINE),
            }
            for m in members
        ],
        "departments": [{"id": d.pk, "name": d.name} for d in departments],
    }


def operator_status_of(*, tenant: Tenant, membership: Membership) -> str:
    with tenant_scope(tenant):
        row = OperatorStatus.objects.filter(membership=membership).first()
    return row.status if row else OperatorStatus.Status.OFFLINE
