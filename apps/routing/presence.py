"""Operator presence: online, paused, offline; set by the operator and by the system.

The status itself lives in `apps.dashboard.OperatorStatus` (the team list and the dashboard
read it); routing keeps why the system changed it and what it was before (`OperatorRouting`).

Sockets: each open dashboard socket holds a claim in a Redis sorted set per operator, scored
by its expiry and renewed while it lives, so every daphne process sees the same set and a
process that dies frees its claims by themselves. When the last claim goes, `offline_due_at`
is set to now + the grace period; the sweeper turns the operator offline at that time unless
a socket came back (a reload, a phone waking up). Coming back restores the previous status.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Membership, Tenant
from apps.core.tenancy import on_commit_in_scope, scopes_disabled, tenant_scope
from apps.dashboard.models import OperatorStatus

from . import events, selectors
from .locks import tenant_routing_lock
from .models import OperatorRouting

logger = logging.getLogger(__name__)

Status = OperatorStatus.Status
# A socket's claim lives this long unless renewed; sockets renew it every third of it.
SOCKET_CLAIM_SECONDS = 45


def presence_set(
    *,
    tenant: Tenant,
    membership: Membership,
    status: str,
    source: str = "operator",
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> OperatorStatus:
    """Set an operator's status. `source="system"` records `reason` (shown to them and to admins).

    Going online offers them the backlog after the commit; leaving online hands their pending
    offers to the next operator at once.
    """
    if status not in Status.values:
        raise ValidationError(_("Unknown status."))
    if membership.tenant_id != tenant.pk or not membership.is_active:
        raise PermissionDenied
    now = timezone.now()
    with tenant_scope(tenant), transaction.atomic():
        tenant_routing_lock(tenant.pk)
        row = OperatorStatus.objects.select_for_update().filter(tenant=tenant, membership=membership).first()
        if row is None:
            row = OperatorStatus(tenant=tenant, membership=membership, status=Status.OFFLINE)
        routing, _created = OperatorRouting.objects.select_for_update().get_or_create(
            tenant=tenant, membership=membership
        )
        before = row.status
        changed = row.pk is None or before != status
        if source == "system":
            if reason == OperatorRouting.Reason.DISCONNECTED and before != Status.OFFLINE:
                routing.previous_status = before
            routing.reason = reason
            routing.reason_detail = detail or {}
        else:
            changed = changed or bool(routing.reason)
            routing.reason = ""
            routing.reason_detail = {}
            routing.previous_status = ""
            if status == Status.ONLINE:
                routing.missed_in_row = 0
        routing.save()
        row.status = status
        if changed:
            row.changed_at = now
        row.save()
        if changed:
            frame = events.presence_frame(
                membership_id=membership.pk,
                user_id=membership.user_id,
                name=membership.name_for_team,
                status=status,
                changed_at=row.changed_at.isoformat(),
                reason=routing.reason,
                detail=routing.reason_detail,
            )
            on_commit_in_scope(
                functools.partial(events.publish_presence, tenant_id=tenant.pk, frame=frame), robust=True
            )
        if before == Status.ONLINE and status != Status.ONLINE:
            from .services import withdraw_offers_of

            withdraw_offers_of(tenant=tenant, membership=membership, now=now)
        if status == Status.ONLINE and before != Status.ONLINE:
            returning = membership.pk if source == "operator" else None
            on_commit_in_scope(functools.partial(_drain, tenant, returning), robust=True)
    return row


def _drain(tenant: Tenant, returning: int | None = None) -> None:
    from .services import queue_drain

    queue_drain(tenant=tenant, returning=returning)


# --- sockets ------------------------------------------------------------------------------------------


def _key(membership_id: int) -> str:
    return f"parley:opsockets:m{membership_id}"


_clients: dict[int, Any] = {}


def _redis():
    import redis

    client = _clients.get(0)
    if client is None:
        client = redis.Redis.from_url(django_settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        _clients[0] = client
    return client


def sockets_open(membership_id: int) -> int:
    """How many dashboard sockets of this operator are alive in any process (expired claims dropped)."""
    client = _redis()
    key = _key(membership_id)
    client.zremrangebyscore(key, "-inf", time.time())
    return int(client.zcard(key))


def _claim(membership_id: int, socket_id: str) -> None:
    client = _redis()
    now = time.time()
    key = _key(membership_id)
    pipe = client.pipeline()
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zadd(key, {socket_id: now + SOCKET_CLAIM_SECONDS})
    pipe.expire(key, SOCKET_CLAIM_SECONDS + 5)
    pipe.execute()


def _release(membership_id: int, socket_id: str) -> int:
    client = _redis()
    key = _key(membership_id)
    client.zrem(key, socket_id)
    client.zremrangebyscore(key, "-inf", time.time())
    return int(client.zcard(key))


def operator_connected(*, tenant: Tenant, membership: Membership, socket_id: str) -> None:
    """A dashboard socket opened: cancel a pending offline, and restore the status a disconnect took."""
    try:
        _claim(membership.pk, socket_id)
    except Exception:  # Redis down: presence falls back to the database alone
        logger.warning("operator socket claim failed", exc_info=True)
    with tenant_scope(tenant):
        routing = OperatorRouting.objects.filter(tenant=tenant, membership=membership).first()
        if routing is None:
            return
        if routing.offline_due_at is not None:
            OperatorRouting.objects.filter(pk=routing.pk).update(offline_due_at=None)
            on_commit_in_scope(functools.partial(_drain, tenant), robust=True)
        if routing.reason == OperatorRouting.Reason.DISCONNECTED and routing.previous_status:
            presence_set(tenant=tenant, membership=membership, status=routing.previous_status)


def operator_disconnected(*, tenant: Tenant, membership: Membership, socket_id: str) -> None:
    """A dashboard socket closed: when it was the last one, the operator goes offline after the grace period."""
    try:
        remaining = _release(membership.pk, socket_id)
    except Exception:
        logger.warning("operator socket release failed", exc_info=True)
        remaining = 0
    if remaining:
        return
    settings = selectors.settings_for(tenant=tenant)
    with tenant_scope(tenant), transaction.atomic():
        status = (
            OperatorStatus.objects.filter(tenant=tenant, membership=membership).values_list("status", flat=True).first()
        )
        if status in (None, Status.OFFLINE):
            return
        routing, _created = OperatorRouting.objects.get_or_create(tenant=tenant, membership=membership)
        routing.offline_due_at = timezone.now() + timedelta(seconds=settings.grace_seconds)
        routing.save(update_fields=["offline_due_at"])


def presence_sweep(*, now=None, limit: int = 200) -> int:
    """Operators whose grace period is over and who have no socket anywhere go offline. Returns how many."""
    now = now or timezone.now()
    with scopes_disabled():
        due = list(
            OperatorRouting.objects.filter(offline_due_at__lte=now)
            .select_related("membership__user", "membership__tenant")
            .order_by("offline_due_at")[:limit]
        )
    done = 0
    for routing in due:
        membership = routing.membership
        tenant = membership.tenant
        try:
            alive = sockets_open(membership.pk)
        except Exception:
            alive = 0
        with tenant_scope(tenant), transaction.atomic():
            tenant_routing_lock(tenant.pk)
            # Claimed by another worker, or a socket came back meanwhile: nothing to do.
            locked = (
                OperatorRouting.objects.select_for_update(skip_locked=True)
                .filter(pk=routing.pk, offline_due_at__lte=now)
                .first()
            )
            if locked is None:
                continue
            OperatorRouting.objects.filter(pk=routing.pk).update(offline_due_at=None)
            if alive or not membership.is_active:
                continue
            presence_set(
                tenant=tenant,
                membership=membership,
                status=Status.OFFLINE,
                source="system",
                reason=OperatorRouting.Reason.DISCONNECTED,
            )
            done += 1
    return done


# --- the operator socket's side (called from the consumer, at connect and disconnect) -------------


async def socket_opened(consumer) -> None:
    """Register an operator socket and keep its claim alive while it is open."""
    tenant, membership = consumer.tenant, consumer.membership
    own, offers = await database_sync_to_async(_connected)(tenant, membership, consumer.channel_name)
    consumer.spawn(_renew(membership.pk, consumer.channel_name), name="presence claim")
    # This operator's own status with its reason (the header shows why the system paused them),
    # and the offers still waiting for their answer (a reload must not lose an offer).
    if own["reason"]:
        await consumer.send_frame({"type": "presence", "operator": own})
    for offer in offers:
        await consumer.send_frame(
            events.offer_frame(event="made", conversation_id=offer["conversation"], expires_at=offer["expires_at"])
        )


def _connected(tenant: Tenant, membership: Membership, socket_id: str) -> tuple[dict, list[dict]]:
    operator_connected(tenant=tenant, membership=membership, socket_id=socket_id)
    presence = selectors.presence_of(tenant=tenant, membership=membership)
    own = {"id": membership.pk, "user": membership.user_id, "name": membership.name_for_team, **presence}
    return own, selectors.pending_offers_for(tenant=tenant, membership=membership)


async def _renew(membership_id: int, socket_id: str) -> None:
    while True:
        await asyncio.sleep(SOCKET_CLAIM_SECONDS / 3)
        try:
            await database_sync_to_async(_claim, thread_sensitive=False)(membership_id, socket_id)
        except Exception:
            logger.warning("operator socket claim renewal failed", exc_info=True)


async def socket_closed(consumer) -> None:
    membership = getattr(consumer, "membership", None)
    if membership is None or getattr(consumer, "tenant", None) is None:
        return
    await database_sync_to_async(operator_disconnected)(
        tenant=consumer.tenant, membership=membership, socket_id=consumer.channel_name
    )
