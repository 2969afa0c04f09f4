"""Reads of canned replies shared by the dashboard API, the operator socket and the admin.

Visibility, in one place (`visible_replies`): an operator sees the tenant's replies, the
replies of the departments they belong to, and their own personal ones. Anything else,
another tenant's included, is `NotFound`, exactly like a missing id.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from apps.accounts.models import Department, Membership, Tenant
from apps.conversations.errors import Forbidden, NotFound
from apps.core.tenancy import tenant_scope

from .collation import folded
from .models import SHORTCUT_MAX_CHARS, CannedHotkey, CannedReply, CannedUsage, Scope

__all__ = [
    "canned_browse",
    "canned_hotkeys",
    "canned_reply_get",
    "canned_reply_get_own",
    "canned_search",
    "reply_payload",
    "visible_replies",
]

QUERY_MAX_CHARS = 100
LIMIT_MAX = 50
# Within a tier: the most used first, then alphabetical (the tenant's language).
USAGE_ORDER = ("-usage_count", "sort_key", "id")
ID_MAX = 2**63 - 1


def as_reply_id(value: Any) -> int:
    try:
        reply_id = int(value)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 0 < reply_id <= ID_MAX or isinstance(value, bool | float):
        raise NotFound()
    return reply_id


def visible_replies(*, tenant: Tenant, membership: Membership) -> QuerySet[CannedReply]:
    """Call inside `tenant_scope(tenant)`."""
    my_departments = Department.members.through.objects.filter(membership_id=membership.pk).values("department_id")
    return (
        CannedReply.objects.defer("search_text", "sort_key")
        .filter(tenant=tenant)
        .filter(
            Q(scope=Scope.TENANT)
            | Q(scope=Scope.DEPARTMENT, department_id__in=my_departments)
            | Q(scope=Scope.PERSONAL, owner_id=membership.pk)
        )
    )


def reply_payload(reply: CannedReply, *, membership: Membership | None = None) -> dict[str, Any]:
    return {
        "id": reply.pk,
        "title": reply.title,
        "shortcut": reply.shortcut,
        "text": reply.text,
        "language": reply.language,
        "tags": reply.tag_list,
        "scope": reply.scope,
        "department": reply.department.name if reply.scope == Scope.DEPARTMENT and reply.department else None,
        "usage_count": reply.usage_count,
        "editable": membership is not None and reply.scope == Scope.PERSONAL and reply.owner_id == membership.pk,
    }


def _payloads(replies, membership: Membership) -> list[dict[str, Any]]:
    return [reply_payload(reply, membership=membership) for reply in replies]


def canned_search(
    *, tenant: Tenant, membership: Membership, query: str, limit: int = 10, language: str | None = None
) -> list[dict[str, Any]]:
    """What the reply box suggests after `/` (or `#` for tags) and the letters typed since.

    Order: shortcut starts with the query, then shortcut contains it, then title or text
    contains every word of it; within each, the most used first, then alphabetical
    (the tenant's language). `#word` matches tags starting with `word`. An empty query
    is the alphabetical browse. Case and diacritics are ignored ("zolw" finds "Żółw").
    """
    query = str(query or "")[:QUERY_MAX_CHARS].strip()
    limit = max(1, min(LIMIT_MAX, int(limit)))
    with tenant_scope(tenant):
        replies = visible_replies(tenant=tenant, membership=membership).select_related("department")
        if language:
            replies = replies.filter(language=language)
        if query.startswith("#"):
            tag = folded(query[1:].strip())
            if tag:
                replies = replies.filter(Q(tags__startswith=tag) | Q(tags__contains=", " + tag))
            return _payloads(replies.order_by(*USAGE_ORDER)[:limit], membership)
        needle = folded(query.lstrip("/"))
        if not needle:
            return _payloads(replies.order_by("sort_key", "id")[:limit], membership)
        shortcut = needle[:SHORTCUT_MAX_CHARS]
        words = Q(*[Q(search_text__contains=word) for word in needle.split()])
        if " " in needle:  # a shortcut has no spaces: a query with one matches no shortcut
            return _payloads(replies.filter(words).order_by(*USAGE_ORDER)[:limit], membership)
        # Disjoint tiers, each in plain (usage, alphabetical) order, so PostgreSQL can walk the
        # usage index and stop at `limit` for a broad query, or use the shortcut and trigram
        # indexes for a narrow one.
        tiers = [
            Q(shortcut_folded__startswith=shortcut),
            Q(shortcut_folded__contains=shortcut) & ~Q(shortcut_folded__startswith=shortcut),
            words & ~Q(shortcut_folded__contains=shortcut),
        ]
        return _payloads(_tiered(replies, tiers, limit), membership)


def _tiered(replies: QuerySet[CannedReply], tiers: list[Q], limit: int) -> list[CannedReply]:
    """The first `limit` replies of the disjoint tiers in order, each tier in USAGE_ORDER: one
    query per tier until the list is full.

    One UNION ALL statement for all tiers was measured (bench/canned_search.py --variant union,
    bench/README.md): it did not answer faster and cost more CPU for one-tier searches, as the
    time goes to planning each statement, not to the round trips.
    """
    found: list[CannedReply] = []
    for condition in tiers:
        found += replies.filter(condition).order_by(*USAGE_ORDER)[: limit - len(found)]
        if len(found) == limit:
            break
    return found


def canned_browse(
    *, tenant: Tenant, membership: Membership, offset: int = 0, limit: int = 50, language: str | None = None
) -> dict[str, Any]:
    """Every visible reply in the alphabetical order of the tenant's language, a page at a time."""
    offset = max(0, int(offset))
    limit = max(1, min(200, int(limit)))
    with tenant_scope(tenant):
        replies = visible_replies(tenant=tenant, membership=membership).select_related("department")
        if language:
            replies = replies.filter(language=language)
        page = list(replies.order_by("sort_key", "id")[offset : offset + limit + 1])
    more = len(page) > limit
    return {
        "replies": _payloads(page[:limit], membership),
        "next_offset": offset + limit if more else None,
    }


def canned_reply_get(*, tenant: Tenant, membership: Membership, reply_id: Any) -> CannedReply:
    """A reply this operator may see; missing, another department's, someone's personal one and
    another tenant's all raise the same `NotFound`."""
    reply_id = as_reply_id(reply_id)
    with tenant_scope(tenant):
        reply = visible_replies(tenant=tenant, membership=membership).filter(pk=reply_id).first()
    if reply is None:
        raise NotFound()
    return reply


def canned_reply_get_own(*, tenant: Tenant, membership: Membership, reply_id: Any) -> CannedReply:
    """A reply this operator may edit: only their personal ones (shared ones are the admins')."""
    reply = canned_reply_get(tenant=tenant, membership=membership, reply_id=reply_id)
    if reply.scope != Scope.PERSONAL or reply.owner_id != membership.pk:
        raise Forbidden()
    return reply


def canned_hotkeys(*, tenant: Tenant, membership: Membership) -> list[dict[str, Any]]:
    """The operator's Alt+1..9 replies that they can still see (a reply of a department they
    left drops out)."""
    with tenant_scope(tenant):
        visible = visible_replies(tenant=tenant, membership=membership).values("pk")
        hotkeys = (
            CannedHotkey.objects.filter(tenant=tenant, membership=membership, reply_id__in=visible)
            .select_related("reply", "reply__department")
            .order_by("slot")
        )
        return [
            {"slot": hotkey.slot, "sends": hotkey.sends, "reply": reply_payload(hotkey.reply, membership=membership)}
            for hotkey in hotkeys
        ]


def canned_usage_by_operator(*, tenant: Tenant, reply: CannedReply) -> list[CannedUsage]:
    with tenant_scope(tenant):
        return list(
            CannedUsage.objects.filter(tenant=tenant, reply_id=reply.pk)
            .select_related("membership__user")
            .order_by("-count", "id")
        )
