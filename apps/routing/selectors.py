"""Reads that routing's services, the dashboard, the widget and the admin share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from apps.accounts.models import Department, Membership, Tenant
from apps.conversations.models import Conversation
from apps.core.tenancy import tenant_scope
from apps.dashboard.models import OperatorStatus

from .hours import Schedule
from .models import DepartmentRouting, Holiday, Offer, OperatorRouting, QueueEntry, RoutingSettings, WeeklyHours

# Conversations that hold one of an operator's slots.
BUSY_STATUSES = (Conversation.Status.OPEN, Conversation.Status.PENDING)
# The queue's ETA is drawn from the accepts of this last stretch of time.
ETA_WINDOW = timedelta(minutes=30)
# Fewer accepts than this in the window give no estimate (one accept is not a rate).
ETA_MIN_ACCEPTS = 3


def settings_for(*, tenant: Tenant) -> RoutingSettings:
    with tenant_scope(tenant):
        found = RoutingSettings.objects.filter(tenant=tenant).first()
    return found or RoutingSettings.defaults_for(tenant)


def schedule_for(*, tenant: Tenant, settings: RoutingSettings | None = None) -> Schedule:
    settings = settings or settings_for(tenant=tenant)
    if not settings.business_hours_enabled:
        return Schedule(time_zone=tenant.time_zone, enabled=False, weekly={}, holidays=frozenset())
    weekly: dict[int, list] = {}
    with tenant_scope(tenant):
        for row in WeeklyHours.objects.filter(tenant=tenant):
            weekly.setdefault(row.weekday, []).append((row.opens, row.closes))
        holidays = frozenset(Holiday.objects.filter(tenant=tenant).values_list("date", flat=True))
    return Schedule(time_zone=tenant.time_zone, enabled=True, weekly=weekly, holidays=holidays)


def is_open(*, tenant: Tenant, at: datetime | None = None) -> bool:
    return schedule_for(tenant=tenant).is_open(at or timezone.now())


def department_routing(*, tenant: Tenant, department_id: int | None) -> DepartmentRouting | None:
    if department_id is None:
        return None
    with tenant_scope(tenant):
        return DepartmentRouting.objects.filter(tenant=tenant, department_id=department_id).first()


def sla_target(*, tenant: Tenant, settings: RoutingSettings, department_id: int | None, kind: str) -> int:
    """The first-response (`kind="first"`) or next-response (`"next"`) target in business seconds; 0: none."""
    field = "sla_first_response_seconds" if kind == "first" else "sla_next_response_seconds"
    rule = department_routing(tenant=tenant, department_id=department_id)
    own = getattr(rule, field) if rule is not None else None
    return own if own is not None else getattr(settings, field)


def department_for_url(*, tenant: Tenant, url: str) -> Department | None:
    """The first department (by name) with a page-address rule that `url` contains."""
    if not url:
        return None
    url = url.lower()
    with tenant_scope(tenant):
        rules = DepartmentRouting.objects.filter(tenant=tenant).exclude(url_patterns="").select_related("department")
        for rule in sorted(rules, key=lambda r: r.department.name):
            if any(pattern in url for pattern in rule.pattern_list):
                return rule.department
    return None


@dataclass
class Candidate:
    membership: Membership
    load: int  # open chats + pending offers
    limit: int
    last_offered_at: datetime | None

    @property
    def has_room(self) -> bool:
        return self.load < self.limit


def candidates(*, tenant: Tenant, department_id: int | None) -> list[Candidate]:
    """Online operators with a dashboard open, with their load; the department's members if it has any.

    Call under the tenant's routing lock when the answer decides an offer.
    """
    with tenant_scope(tenant):
        online = Membership.objects.filter(
            tenant=tenant,
            is_active=True,
            user__is_active=True,
            operator_status__status=OperatorStatus.Status.ONLINE,
        ).exclude(routing__offline_due_at__isnull=False)
        if department_id is not None:
            members = Membership.objects.filter(tenant=tenant, departments__id=department_id)
            if members.exists():
                online = online.filter(pk__in=members.values("pk"))
        online = online.annotate(
            busy=Count(
                "assigned_conversations",
                filter=Q(assigned_conversations__status__in=BUSY_STATUSES),
                distinct=True,
            ),
        ).select_related("user", "routing")
        members = list(online)
        offered = dict(
            Offer.objects.filter(tenant=tenant, outcome=Offer.Outcome.PENDING, membership__in=[m.pk for m in members])
            .values("membership")
            .annotate(n=Count("pk"))
            .values_list("membership", "n")
        )
    result = []
    for member in members:
        routing = getattr(member, "routing", None) if hasattr(member, "routing") else None
        result.append(
            Candidate(
                membership=member,
                load=member.busy + offered.get(member.pk, 0),
                limit=member.max_concurrent_chats,
                last_offered_at=routing.last_offered_at if routing else None,
            )
        )
    return result


def last_operator_of(*, tenant: Tenant, conversation: Conversation) -> int | None:
    """The operator who last talked to this visitor (their latest other conversation with an assignee)."""
    with tenant_scope(tenant):
        return (
            Conversation.objects.filter(tenant=tenant, visitor_id=conversation.visitor_id, assignee__isnull=False)
            .exclude(pk=conversation.pk)
            .order_by("-last_message_at", "-pk")
            .values_list("assignee_id", flat=True)
            .first()
        )


def accept_rate(*, tenant: Tenant, department_id: int | None = None, now: datetime | None = None) -> float:
    """Chats taken from this department's queue (None: chats without one) per second over the last
    ETA_WINDOW (0 below ETA_MIN_ACCEPTS: no guess)."""
    now = now or timezone.now()
    with tenant_scope(tenant):
        taken = QueueEntry.objects.filter(
            tenant=tenant, department_id=department_id, taken_at__gte=now - ETA_WINDOW
        ).count()
    if taken < ETA_MIN_ACCEPTS:
        return 0.0
    return taken / ETA_WINDOW.total_seconds()


def eta_seconds(*, position: int, rate: float) -> int | None:
    """An estimate of the wait at `position` from the recent accept rate; None without data."""
    if rate <= 0 or position <= 0:
        return None
    return max(5, int(round(position / rate)))


def queue_state(*, tenant: Tenant, conversation_id: int) -> dict[str, Any] | None:
    """What the widget shows a waiting visitor: position, ETA, the tenant's message. None if not waiting."""
    with tenant_scope(tenant):
        entry = QueueEntry.objects.filter(tenant=tenant, conversation_id=conversation_id, waiting=True).first()
    if entry is None:
        return None
    settings = settings_for(tenant=tenant)
    return {
        "position": entry.position,
        "eta": eta_seconds(position=entry.position, rate=accept_rate(tenant=tenant, department_id=entry.department_id)),
        "message": settings.queue_message,
    }


def presence_of(*, tenant: Tenant, membership: Membership) -> dict[str, Any]:
    """An operator's status and why the system set it, for the dashboard's header."""
    with tenant_scope(tenant):
        status = (
            OperatorStatus.objects.filter(tenant=tenant, membership=membership).values_list("status", flat=True).first()
        )
        routing = OperatorRouting.objects.filter(tenant=tenant, membership=membership).first()
    return {
        "status": status or OperatorStatus.Status.OFFLINE,
        "reason": routing.reason if routing else "",
        "detail": routing.reason_detail if routing else {},
    }


def pending_offers_for(*, tenant: Tenant, membership: Membership) -> list[dict[str, Any]]:
    """Offers waiting for this operator's answer (sent again when the dashboard connects)."""
    with tenant_scope(tenant):
        offers = list(
            Offer.objects.filter(tenant=tenant, membership=membership, outcome=Offer.Outcome.PENDING).order_by(
                "offered_at"
            )
        )
    return [
        {
            "conversation": offer.conversation_id,
            "expires_at": offer.expires_at.isoformat() if offer.expires_at else None,
        }
        for offer in offers
    ]


def sla_of(*, tenant: Tenant, conversation_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The running response targets of the named conversations, for the dashboard's countdown.

    `kind` is `first` (no operator reply yet) or `next` (the visitor wrote after a reply and
    waits for the next one); conversations with no clock running are left out.
    """
    with tenant_scope(tenant):
        rows = (
            QueueEntry.objects.filter(tenant=tenant, conversation_id__in=conversation_ids)
            .exclude(conversation__status=Conversation.Status.CLOSED)
            .values_list(
                "conversation_id",
                "conversation__first_reply_at",
                "conversation__awaiting_reply_since",
                "sla_due_at",
                "sla_breached_at",
                "next_started_at",
                "next_due_at",
                "next_breached_at",
            )
        )
        result = {}
        for cid, first_reply, awaiting, due, breached, next_started, next_due, next_breached in rows:
            if first_reply is None and due is not None:
                result[cid] = {"kind": "first", "due_at": due.isoformat(), "breached": breached is not None}
            elif awaiting is not None and next_due is not None and next_started == awaiting:
                result[cid] = {"kind": "next", "due_at": next_due.isoformat(), "breached": next_breached is not None}
    return result
