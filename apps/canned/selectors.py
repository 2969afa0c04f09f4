"""Reads of canned replies shared by the dashboard API, the operator socket and the admin.

Visibility, in one place (`visible_replies`): an operator sees the tenant's replies, the
replies of the departments they belong to, and their own personal ones. Anything else,
another tenant's included, is `NotFound`, exactly like a missing id.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import BooleanField, Case, F, Func, Q, QuerySet, Value, When

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
        replies = visible_replies(tenant=tenant, membership=membership)
        if language:
            replies = replies.filter(language=language)
        replies_shown = replies.select_related("department")
        if query.startswith("#"):
            tag = folded(query[1:].strip())
            if tag:
                replies_shown = replies_shown.filter(Q(tags__startswith=tag) | Q(tags__contains=", " + tag))
            return _payloads(replies_shown.order_by(*USAGE_ORDER)[:limit], membership)
        needle = folded(query.lstrip("/"))
        if not needle:
            return _payloads(replies_shown.order_by("sort_key", "id")[:limit], membership)
        shortcut = needle[:SHORTCUT_MAX_CHARS]
        words = Q(*[Contains(F("search_text"), Value(word)) for word in needle.split()])
        if _indexed_search():
            found = _ranked_indexed(
                replies, membership=membership, needle=needle, shortcut=shortcut, language=language, limit=limit
            )
        elif " " in needle:  # a shortcut has no spaces: a query with one matches no shortcut
            found = _first(replies.filter(words), USAGE_ORDER, limit)
        else:
            found = _ranked(replies, needle=needle, shortcut=shortcut, words=words, limit=limit)
        return _payloads(found, membership)


class Contains(Func):
    """`strpos(text, part) > 0`: a substring test, about twice as fast in PostgreSQL as
    `LIKE '%part%'` over the rows a search has to read (and with nothing to escape)."""

    template = "(strpos(%(expressions)s) > 0)"
    output_field = BooleanField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(instr(%(expressions)s) > 0)", **extra)


class StartsWith(Func):
    """`starts_with(text, prefix)`. Unlike `LIKE 'prefix%'` it is leakproof in PostgreSQL, so with
    row-level security on it may use the shortcut's pattern index (`canned_by_shortcut`)."""

    function = "starts_with"
    output_field = BooleanField()

    def as_sqlite(self, compiler, connection, **extra):
        text, text_params = compiler.compile(self.source_expressions[0])
        prefix, prefix_params = compiler.compile(self.source_expressions[1])
        return f"(substr({text}, 1, length({prefix})) = {prefix})", [*text_params, *prefix_params, *prefix_params]


def _ranked(replies: QuerySet[CannedReply], *, needle: str, shortcut: str, words: Q, limit: int) -> list[CannedReply]:
    """SQLite (and PostgreSQL without row-level security); `_ranked_indexed` on PostgreSQL.

    At most two statements, whatever the query: the shortcut prefixes (an index range), and only
    when they do not fill the list, every other match in one pass over the tenant's replies with its
    tier computed per row (shortcut substring 1, title or text 2), then usage and the alphabet.

    Why not one query per tier: with row-level security on (docs/security.md), PostgreSQL uses an
    index for a condition only if its operator is leakproof. `LIKE` is not, so the trigram indexes
    cannot serve `LIKE '%...%'`, and each substring tier read every reply of the tenant: a search
    that fell through to the last tier read them three times. `starts_with` is leakproof and keeps
    the prefix tier on its index; the substring tiers cost one read, with `strpos` rather than
    `LIKE` (bench/README.md, "Canned replies").
    """
    prefix = StartsWith(F("shortcut_folded"), Value(shortcut))
    found = _first(replies.filter(prefix), USAGE_ORDER, limit)
    if len(found) == limit:
        return found
    substring = Contains(F("shortcut_folded"), Value(shortcut))
    # The search text starts with the folded shortcut: for a query that fits a shortcut, `words` (one
    # word) already holds every shortcut substring.
    rest = (
        replies.filter(words if shortcut == needle else Q(substring) | words)
        .exclude(prefix)
        .annotate(tier=Case(When(substring, then=Value(1)), default=Value(2)))
    )
    return found + _first(rest, ("tier", *USAGE_ORDER), limit - len(found))


def _indexed_search() -> bool:
    """Whether `canned_reply_search()` (migration 0005, PostgreSQL only) can answer: it reads the tenant
    from `parley.tenant_id`, which only the row-level security backend (`apps.core.db`) sets."""
    return connection.vendor == "postgresql" and hasattr(connection, "parley_rls_state")


def _ranked_indexed(
    replies: QuerySet[CannedReply],
    *,
    membership: Membership,
    needle: str,
    shortcut: str,
    language: str | None,
    limit: int,
) -> list[CannedReply]:
    """PostgreSQL: the same order as `_ranked`, with the substring tiers on the trigram indexes.

    The shortcut prefixes first, as `_ranked` does (`starts_with()` is leakproof: an index range under
    row-level security); when they do not fill the list, `canned_reply_search()` (migration 0005)
    picks the ids of the other matches by (tier, usage, alphabet). It runs as the bypass role, so
    `LIKE` may use the trigram indexes, and takes the tenant only from the setting the policies read.
    Only ids come back; the replies themselves are loaded here through the scoped manager and
    `visible_replies`, under the policies again.
    """
    found: list[CannedReply] = []
    if " " not in needle:  # a shortcut has no spaces: a query with one matches no shortcut
        found = _first(replies.filter(StartsWith(F("shortcut_folded"), Value(shortcut))), USAGE_ORDER, limit)
        if len(found) == limit:
            return found
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM canned_reply_search(%s, %s, %s, %s, %s)",
            [membership.pk, None if " " in needle else shortcut, needle.split(), language or None, limit - len(found)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return found
    by_id = {reply.pk: reply for reply in replies.filter(pk__in=ids).select_related("department")}
    return found + [by_id[reply_id] for reply_id in ids if reply_id in by_id]


def _first(matches: QuerySet[CannedReply], order: tuple[str, ...], limit: int) -> list[CannedReply]:
    """The first `limit` matches in `order`, with their departments. The ids are picked in a subquery,
    so only those few rows are joined to their department, not every match of a broad search."""
    ids = matches.order_by(*order).values("pk")[:limit]
    return list(matches.filter(pk__in=ids).select_related("department").order_by(*order))


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
