"""The sweepers Celery beat runs every few seconds: idempotent, safe with several workers.

`queue_sweep` reads only `QueueEntry.due_at <= now` through its partial index (never the whole
waiting set), then handles each due entry in its own transaction in the lock order of
`services`: the conversation row (`FOR UPDATE SKIP LOCKED`: a row another worker or an accept
holds is left for the next tick) → the tenant's routing lock → the entry (`SKIP LOCKED`).
Each deadline is re-checked under the locks and cleared in the same commit that acts on it,
so a worker killed mid-sweep loses nothing (the next sweep finds the deadline still set) and
nothing fires twice (a second worker finds it cleared or locked).
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext

from apps.accounts.models import Tenant
from apps.conversations.models import Conversation, Message
from apps.core.tenancy import on_commit_in_scope, scopes_disabled, tenant_scope
from apps.dashboard.models import OperatorStatus

from . import events, selectors
from .locks import tenant_routing_lock
from .models import MissedChat, OperatorRouting, QueueEntry, RoutingSettings
from .presence import SOCKET_CLAIM_SECONDS, presence_sweep, sockets_open
from .services import _offer_expired, _record_missed

logger = logging.getLogger(__name__)

BATCH = 500
# A new chat is routed by a task right after its commit; the sweep takes over only after this.
UNROUTED_GRACE = timedelta(seconds=5)


def queue_sweep(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """Act on every due deadline (offer expiry, retention, first and next response, queue timeout).

    Returns the entries handled."""
    now = now or timezone.now()
    with scopes_disabled():
        due = list(
            QueueEntry.objects.filter(due_at__lte=now)
            .order_by("due_at")
            .values_list("pk", "tenant_id", "conversation_id")[:limit]
        )
    tenants: dict[int, Tenant] = {}
    handled = 0
    for entry_id, tenant_id, conversation_id in due:
        tenant = tenants.get(tenant_id)
        if tenant is None:
            with scopes_disabled():
                tenant = tenants[tenant_id] = Tenant.objects.get(pk=tenant_id)
        try:
            if _sweep_one(tenant, entry_id, conversation_id, now):
                handled += 1
        except Exception:  # one broken entry must not stop the others; it stays due for the next tick
            logger.exception("routing sweep of entry %s failed", entry_id)
    return handled


def _sweep_one(tenant: Tenant, entry_id: int, conversation_id: int, now: datetime) -> bool:
    settings = selectors.settings_for(tenant=tenant)
    with tenant_scope(tenant), transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(skip_locked=True).filter(pk=conversation_id, tenant=tenant).first()
        )
        if conversation is None:
            return False
        tenant_routing_lock(tenant.pk)
        entry = (
            QueueEntry.objects.select_for_update(skip_locked=True)
            .filter(pk=entry_id, tenant=tenant, due_at__lte=now)
            .first()
        )
        if entry is None:
            return False
        entry.conversation = conversation
        if entry.offer_expires_at is not None and entry.offer_expires_at <= now and entry.waiting:
            _offer_expired(tenant, entry, settings, now)
        elif entry.offer_expires_at is not None and entry.offer_expires_at <= now:
            entry.offer_expires_at = None
        if (
            entry.retention_due_at is not None
            and entry.retention_sent_at is None
            and entry.retention_due_at <= now
            and entry.waiting
        ):
            _send_retention(tenant, conversation, settings)
            entry.retention_sent_at = now
        if entry.sla_due_at is not None and entry.sla_breached_at is None and entry.sla_due_at <= now:
            if conversation.first_reply_at is None and not conversation.is_closed:
                entry.sla_breached_at = now
                _announce_breach(tenant, conversation, "first", entry.sla_due_at)
            else:
                entry.sla_due_at = None
        if entry.next_due_at is not None and entry.next_breached_at is None and entry.next_due_at <= now:
            # Still the same wait (no reply since, not closed): a breach; otherwise the clock had stopped.
            if conversation.awaiting_reply_since == entry.next_started_at and not conversation.is_closed:
                entry.next_breached_at = now
                entry.next_breaches += 1
                _announce_breach(tenant, conversation, "next", entry.next_due_at)
            else:
                entry.next_due_at = None
        if entry.missed_due_at is not None and entry.missed_due_at <= now:
            if entry.waiting:
                _record_missed(tenant, entry, MissedChat.Reason.QUEUE_TIMEOUT, now)
            entry.missed_due_at = None
        if not entry.waiting:
            entry.retention_due_at = None if entry.retention_sent_at is None else entry.retention_due_at
        entry.refresh_due()
        entry.save()
    return True


def _announce_breach(tenant: Tenant, conversation: Conversation, kind: str, due_at: datetime) -> None:
    on_commit_in_scope(
        functools.partial(
            events.publish_sla,
            tenant_id=tenant.pk,
            conversation_id=conversation.pk,
            event="breached",
            kind=kind,
            due_at=due_at.isoformat(),
        ),
        robust=True,
    )


def _send_retention(tenant: Tenant, conversation: Conversation, settings: RoutingSettings) -> None:
    """The tenant's retention phrase, once, as a system message asking for an email address.

    Call with the conversation row locked (the sweeper holds it): the message takes the next seq.
    """
    from apps.conversations import events as conversation_events
    from apps.conversations.services.cleaning import SERVER_CLIENT_ID_PREFIX
    from apps.conversations.services.messages import message_append

    with translation.override(tenant.default_language or django_settings.LANGUAGE_CODE):
        body = settings.retention_phrase or gettext(
            "All our operators are busy right now. Leave your email address and we will continue by email "
            "if we cannot answer here soon."
        )
    message = message_append(
        tenant,
        conversation,
        author_type=Message.Author.SYSTEM,
        kind=Message.Kind.SYSTEM,
        body=body,
        client_id=f"{SERVER_CLIENT_ID_PREFIX}retention",
        data={"event": "retention", "ask_email": True, "custom": bool(settings.retention_phrase)},
    )
    conversation.save(update_fields=["last_seq"])
    conversation_events.message_created(message)


def presence_audit(*, now: datetime | None = None) -> int:
    """Operators shown online or paused with no live socket anywhere (their process died) get a grace period.

    Reads only operators who are online or paused (an index on status), not the whole team.
    """
    now = now or timezone.now()
    with scopes_disabled():
        rows = list(
            OperatorStatus.objects.filter(status__in=[OperatorStatus.Status.ONLINE, OperatorStatus.Status.PAUSED])
            .exclude(changed_at__gt=now - timedelta(seconds=SOCKET_CLAIM_SECONDS))
            .values_list("tenant_id", "membership_id")
        )
        pending = set(
            OperatorRouting.objects.filter(offline_due_at__isnull=False).values_list("membership_id", flat=True)
        )
    marked = 0
    for tenant_id, membership_id in rows:
        if membership_id in pending:
            continue
        try:
            if sockets_open(membership_id):
                continue
        except Exception:
            return marked  # Redis down: no verdict this time
        with scopes_disabled():
            tenant = Tenant.objects.get(pk=tenant_id)
        grace = selectors.settings_for(tenant=tenant).grace_seconds
        with tenant_scope(tenant):
            routing, _created = OperatorRouting.objects.get_or_create(tenant=tenant, membership_id=membership_id)
            if routing.offline_due_at is None:
                OperatorRouting.objects.filter(pk=routing.pk).update(offline_due_at=now + timedelta(seconds=grace))
                marked += 1
    return marked


def unrouted_sweep(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """Route the queued chats that have no waiting entry: their routing task was lost (broker down,
    worker gone before it acked). Returns how many were routed.

    Reads the queued conversations through their partial index (a few, not the history); a chat
    waits `UNROUTED_GRACE` first so the sweep does not race every task it was sent. Routing is
    idempotent under the tenant's lock, so a task that arrives late changes nothing.
    """
    from .services import conversation_route

    now = now or timezone.now()
    with scopes_disabled():
        rows = list(
            Conversation.objects.filter(
                status=Conversation.Status.QUEUED, assignee__isnull=True, created_at__lte=now - UNROUTED_GRACE
            )
            .exclude(routing__waiting=True)
            .order_by("created_at")
            .values_list("pk", "tenant_id")[:limit]
        )
    tenants: dict[int, Tenant] = {}
    routed = 0
    for conversation_id, tenant_id in rows:
        with scopes_disabled():
            tenant = tenants.get(tenant_id) or tenants.setdefault(tenant_id, Tenant.objects.get(pk=tenant_id))
            conversation = Conversation.objects.get(pk=conversation_id)
        try:
            if conversation_route(tenant=tenant, conversation=conversation) is not None:
                routed += 1
        except Exception:  # the others still go; this one is found again next tick
            logger.exception("routing sweep of unrouted conversation %s failed", conversation_id)
    return routed


def positions_sweep() -> int:
    """Each tenant with waiting chats whose place moved: one pass that tells only those chats.

    Finds the tenants through the partial index of moved, untold entries (nothing is read when no
    place moved), then `positions_publish` once per tenant. Returns the chats told.
    """
    from .services import positions_publish

    with scopes_disabled():
        tenant_ids = list(
            QueueEntry.objects.filter(waiting=True)
            .exclude(position=F("told_position"))
            .order_by()
            .values_list("tenant_id", flat=True)
            .distinct()[:BATCH]
        )
        tenants = list(Tenant.objects.filter(pk__in=tenant_ids))
    told = 0
    for tenant in tenants:
        try:
            told += positions_publish(tenant=tenant)
        except Exception:  # the others still go; this tenant is found again next tick
            logger.exception("routing positions of tenant %s failed", tenant.pk)
    return told


def sweep_all(*, now: datetime | None = None) -> dict[str, int]:
    return {
        "queue": queue_sweep(now=now),
        "unrouted": unrouted_sweep(now=now),
        "positions": positions_sweep(),
        "presence": presence_sweep(now=now),
    }
