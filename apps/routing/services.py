"""Every state change of routing: queueing a chat, offering it, taking it, letting it go.

Keyword-only, typed `<noun>_<verb>` functions; each takes the tenant and runs in its scope.
Lock order, everywhere: a conversation row (only where the caller already holds it) → the
tenant's routing lock (`locks`) → queue entries, offers and operator rows. The sweeper keeps
the same order (`sweeps`), so no two of these ever wait on each other in a cycle.

Capacity: an operator's load is their open/pending conversations plus their pending offers
with a deadline; an offer is made only below `Membership.max_concurrent_chats`, and only
under the routing lock, so concurrent routers never overfill anyone.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.accounts.models import Membership, Tenant
from apps.conversations.models import Conversation
from apps.core.tenancy import on_commit_in_scope, scoped_service

from . import events, selectors
from .locks import tenant_routing_lock
from .models import MissedChat, Offer, OperatorRouting, QueueEntry, RoutingSettings, Strategy

# Entries a backlog pass offers at most in one transaction (the rest wait for the next pass).
DRAIN_BATCH = 200


def _on_commit(fn, *args: Any, **kwargs: Any) -> None:
    on_commit_in_scope(functools.partial(fn, *args, **kwargs), robust=True)


def _routing_row(tenant: Tenant, membership_id: int) -> OperatorRouting:
    row, _created = OperatorRouting.objects.get_or_create(tenant=tenant, membership_id=membership_id)
    return row


def _strategy(tenant: Tenant, settings: RoutingSettings, department_id: int | None) -> str:
    rule = selectors.department_routing(tenant=tenant, department_id=department_id)
    return (rule.strategy if rule and rule.strategy else None) or settings.strategy


# --- the queue ---------------------------------------------------------------------------------------


def _publish_positions(
    tenant: Tenant, rows: list[tuple[int, int]], settings: RoutingSettings, department_id: int | None
) -> None:
    """Tell each `(conversation id, position)` of one department's queue its new place; one ETA rate for all."""
    if not rows:
        return
    rate = selectors.accept_rate(tenant=tenant, department_id=department_id)
    frames = [
        events.queue_frame(
            conversation_id=cid,
            position=position,
            eta=selectors.eta_seconds(position=position, rate=rate),
            message=settings.queue_message,
        )
        for cid, position in rows
    ]
    events.publish_queue_positions(frames)


def _close_gap(tenant: Tenant, entry: QueueEntry) -> None:
    """`entry` leaves its department's queue: the chats behind it there move up one.

    One UPDATE, nothing published: the next sweep tells the chats whose place moved
    (`positions_publish`), once per tick however many chats left meanwhile. Call under the lock.
    """
    table = QueueEntry._meta.db_table
    same_queue, params = "department_id IS NULL", [tenant.pk, entry.position, entry.pk]
    if entry.department_id is not None:
        same_queue = "department_id = %s"
        params.append(entry.department_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET position = position - 1 "  # noqa: S608 - table name from the model
            f"WHERE tenant_id = %s AND waiting AND position > %s AND id <> %s AND {same_queue}",
            params,
        )


@scoped_service
def positions_publish(*, tenant: Tenant) -> int:
    """Tell every waiting chat of the tenant whose place moved since it was last told; returns how many.

    One UPDATE ... RETURNING under the routing lock (so it never interleaves with a queue change),
    one ETA rate per department, one hop into the channel layer for all the frames after the commit.
    """
    settings = selectors.settings_for(tenant=tenant)
    table = QueueEntry._meta.db_table
    with transaction.atomic():
        tenant_routing_lock(tenant.pk)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET told_position = position "  # noqa: S608 - table name from the model
                "WHERE tenant_id = %s AND waiting AND position <> told_position "
                "RETURNING conversation_id, department_id, position",
                [tenant.pk],
            )
            moved = cursor.fetchall()
        by_department: dict[int | None, list[tuple[int, int]]] = {}
        for conversation_id, department_id, position in moved:
            by_department.setdefault(department_id, []).append((conversation_id, position))
        frames = []
        for department_id, rows in by_department.items():
            rate = selectors.accept_rate(tenant=tenant, department_id=department_id)
            frames += [
                events.queue_frame(
                    conversation_id=cid,
                    position=position,
                    eta=selectors.eta_seconds(position=position, rate=rate),
                    message=settings.queue_message,
                )
                for cid, position in rows
            ]
        _on_commit(events.publish_queue_positions, frames)
    return len(moved)


def _leave_queue(tenant: Tenant, entry: QueueEntry, settings: RoutingSettings) -> None:
    """Take `entry` out of the waiting set; everyone behind it in its queue moves up one."""
    _close_gap(tenant, entry)
    entry.waiting = False
    entry.position = 0
    entry.missed_due_at = None
    entry.retention_due_at = entry.retention_due_at if entry.retention_sent_at else None
    _on_commit(events.publish_queue_left, conversation_id=entry.conversation_id)


def _enqueue(
    tenant: Tenant, conversation: Conversation, settings: RoutingSettings, *, department_id: int | None, now: datetime
) -> QueueEntry:
    """Put the conversation at the end of its department's queue (a new entry, or its old one again).

    Each department (and the chats without one) is a queue of its own: the place counts only the
    chats waiting for the same department. A waiting chat moved to another department goes to
    the end of that queue. Call under the lock.
    """
    entry = QueueEntry.objects.filter(tenant=tenant, conversation=conversation).first()
    if entry is not None and entry.waiting:
        if entry.department_id == department_id:
            return entry
        _close_gap(tenant, entry)
        entry.department_id = department_id
        entry.position = entry.told_position = _queue_length(tenant, department_id, entry) + 1
        entry.save(update_fields=["department", "position", "told_position"])
        _on_commit(_publish_positions, tenant, [(conversation.pk, entry.position)], settings, department_id)
        return entry
    entry = entry or QueueEntry(tenant=tenant, conversation=conversation)
    schedule = selectors.schedule_for(tenant=tenant, settings=settings)
    sla_seconds = selectors.sla_target(tenant=tenant, settings=settings, department_id=department_id, kind="first")
    entry.department_id = department_id
    entry.waiting = True
    entry.enqueued_at = now
    entry.offered_to = None
    entry.offer_expires_at = None
    entry.broadcast = False
    entry.offer_round = 1
    entry.tried = []
    entry.taken_at = None
    entry.taken_by = None
    entry.missed_due_at = now + timedelta(seconds=settings.queue_timeout_seconds)
    # The retention phrase asks a live visitor for an email address: not for mail or messenger chats.
    if entry.retention_sent_at is None and conversation.channel == Conversation.Channel.WIDGET:
        entry.retention_due_at = now + timedelta(seconds=settings.retention_seconds)
    if conversation.first_reply_at is None and sla_seconds and entry.sla_due_at is None:
        entry.sla_due_at = schedule.add_business_seconds(now, sla_seconds)
    entry.position = entry.told_position = _queue_length(tenant, department_id, entry) + 1
    entry.refresh_due()
    entry.save()
    _on_commit(_publish_positions, tenant, [(conversation.pk, entry.position)], settings, department_id)
    return entry


def _queue_length(tenant: Tenant, department_id: int | None, entry: QueueEntry) -> int:
    """Chats waiting in the department's queue (None: the chats without a department), `entry` aside."""
    waiting = QueueEntry.objects.filter(tenant=tenant, waiting=True, department_id=department_id)
    return waiting.exclude(pk=entry.pk).count() if entry.pk else waiting.count()


# --- offers ------------------------------------------------------------------------------------------


def _pick(
    tenant: Tenant, entry: QueueEntry, conversation: Conversation, settings: RoutingSettings
) -> tuple[str, list[selectors.Candidate]]:
    """Who gets the offer: `("one", [candidate])`, `("all", candidates)` or `("none", [])`."""
    pool = [c for c in selectors.candidates(tenant=tenant, department_id=entry.department_id) if c.has_room]
    if not pool:
        return "none", []
    sticky = selectors.last_operator_of(tenant=tenant, conversation=conversation)
    fresh = [c for c in pool if c.membership.pk not in entry.tried]
    if not fresh and entry.offer_round < settings.offer_rounds:
        # Everyone free was tried this round: start the next one (bounded: no endless ping-pong).
        entry.offer_round += 1
        entry.tried = []
        fresh = pool
    if not fresh:
        return "none", []
    for candidate in fresh:
        if candidate.membership.pk == sticky:
            return "one", [candidate]
    strategy = _strategy(tenant, settings, entry.department_id)
    if strategy == Strategy.BROADCAST:
        return "all", fresh
    epoch = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    if strategy == Strategy.LEAST_BUSY:
        best = min(fresh, key=lambda c: (c.load / c.limit, c.load, c.last_offered_at or epoch, c.membership.pk))
    else:
        best = min(fresh, key=lambda c: (c.last_offered_at or epoch, c.membership.pk))
    return "one", [best]


def _offer(
    tenant: Tenant, entry: QueueEntry, conversation: Conversation, settings: RoutingSettings, now: datetime
) -> bool:
    """Offer a waiting, unoffered entry to whoever `_pick` chooses. Call under the lock. True if offered."""
    how, chosen = _pick(tenant, entry, conversation, settings)
    if how == "none":
        entry.save(update_fields=["offer_round", "tried"])
        return False
    deliveries = []
    if how == "all":
        entry.broadcast = True
        entry.offered_to = None
        entry.offer_expires_at = None
        for candidate in chosen:
            Offer.objects.create(
                tenant=tenant, conversation=conversation, membership=candidate.membership, offered_at=now
            )
            deliveries.append(
                (candidate.membership.user_id, events.offer_frame(event="made", conversation_id=conversation.pk))
            )
    else:
        candidate = chosen[0]
        expires = now + timedelta(seconds=settings.offer_seconds)
        entry.broadcast = False
        entry.offered_to = candidate.membership
        entry.offer_expires_at = expires
        Offer.objects.create(
            tenant=tenant,
            conversation=conversation,
            membership=candidate.membership,
            offered_at=now,
            expires_at=expires,
        )
        candidate.load += 1
        deliveries.append(
            (
                candidate.membership.user_id,
                events.offer_frame(event="made", conversation_id=conversation.pk, expires_at=expires.isoformat()),
            )
        )
    OperatorRouting.objects.bulk_create(
        [OperatorRouting(tenant=tenant, membership=c.membership) for c in chosen], ignore_conflicts=True
    )
    OperatorRouting.objects.filter(tenant=tenant, membership__in=[c.membership for c in chosen]).update(
        last_offered_at=now
    )
    for c in chosen:
        c.last_offered_at = now
    entry.refresh_due()
    entry.save()
    _on_commit(events.publish_offers, deliveries)
    return True


def _end_offers(
    tenant: Tenant, conversation_id: int, *, outcome: str, now: datetime, accepted_by: int | None = None
) -> list[tuple[int, dict]]:
    """Close the conversation's pending offers; returns the frames that tell their operators."""
    pending = list(
        Offer.objects.filter(
            tenant=tenant, conversation_id=conversation_id, outcome=Offer.Outcome.PENDING
        ).select_related("membership")
    )
    frames = []
    for offer in pending:
        offer.outcome = Offer.Outcome.ACCEPTED if offer.membership_id == accepted_by else outcome
        offer.ended_at = now
        offer.save(update_fields=["outcome", "ended_at"])
        if offer.outcome != Offer.Outcome.ACCEPTED:
            frames.append(
                (offer.membership.user_id, events.offer_frame(event=offer.outcome, conversation_id=conversation_id))
            )
    return frames


@scoped_service
def conversation_route(*, tenant: Tenant, conversation: Conversation) -> QueueEntry | None:
    """Queue a new or requeued conversation and offer it at once if someone has room.

    Department: the conversation's (pre-chat, transfer), else the first URL rule matching the
    visitor's page. A conversation that is no longer queued (accepted meanwhile) is left alone.
    """
    settings = selectors.settings_for(tenant=tenant)
    with transaction.atomic():
        tenant_routing_lock(tenant.pk)
        now = timezone.now()  # read under the lock: queue order is the order routers got in
        current = Conversation.objects.filter(pk=conversation.pk, tenant=tenant).select_related("visitor").first()
        if current is None or current.status != Conversation.Status.QUEUED or current.assignee_id is not None:
            return None
        department_id = current.department_id
        if department_id is None:
            department = selectors.department_for_url(tenant=tenant, url=current.visitor.current_url)
            if department is not None:
                department_id = department.pk
                Conversation.objects.filter(pk=current.pk, tenant=tenant).update(department=department)
        entry = _enqueue(tenant, current, settings, department_id=department_id, now=now)
        if entry.offered_to_id is None and not entry.broadcast:
            _offer(tenant, entry, current, settings, now)
    return entry


@scoped_service
def queue_drain(*, tenant: Tenant, returning: int | None = None) -> int:
    """Offer the waiting backlog, oldest first, while anyone has room. Returns how many were offered.

    `returning`: an operator who just switched themselves online; chats they let expire before
    may be offered to them again (they chose to come back).
    """
    now = timezone.now()
    settings = selectors.settings_for(tenant=tenant)
    offered = 0
    with transaction.atomic():
        tenant_routing_lock(tenant.pk)
        entries = list(
            QueueEntry.objects.filter(tenant=tenant, waiting=True, offered_to__isnull=True, broadcast=False)
            .select_related("conversation")
            .order_by("enqueued_at", "pk")[:DRAIN_BATCH]
        )
        for entry in entries:
            if returning is not None and returning in entry.tried:
                entry.tried = [pk for pk in entry.tried if pk != returning]
            if _offer(tenant, entry, entry.conversation, settings, now):
                offered += 1
            elif not any(c.has_room for c in selectors.candidates(tenant=tenant, department_id=None)):
                break  # nobody anywhere has room: the rest stays queued
    return offered


def _offer_expired(tenant: Tenant, entry: QueueEntry, settings: RoutingSettings, now: datetime) -> None:
    """The offered operator let the deadline pass: count the miss, maybe pause them, offer to the next."""
    from .presence import presence_set

    membership_id = entry.offered_to_id
    frames = _end_offers(tenant, entry.conversation_id, outcome=Offer.Outcome.EXPIRED, now=now)
    entry.offered_to = None
    entry.offer_expires_at = None
    if membership_id is not None and membership_id not in entry.tried:
        entry.tried = [*entry.tried, membership_id]
    entry.refresh_due()
    entry.save()
    _on_commit(events.publish_offers, frames)
    if membership_id is not None:
        row = _routing_row(tenant, membership_id)
        row.missed_in_row += 1
        row.save(update_fields=["missed_in_row"])
        if row.missed_in_row >= settings.missed_offers_to_pause:
            membership = Membership.objects.select_related("user").get(pk=membership_id, tenant=tenant)
            presence_set(
                tenant=tenant,
                membership=membership,
                status="paused",
                source="system",
                reason=OperatorRouting.Reason.MISSED_OFFERS,
                detail={"missed": row.missed_in_row},
            )
    _offer(tenant, entry, entry.conversation, settings, now)


def withdraw_offers_of(*, tenant: Tenant, membership: Membership, now: datetime) -> None:
    """An operator left `online`: their pending offers go to the next operator. Call under the lock."""
    settings = selectors.settings_for(tenant=tenant)
    conversation_ids = list(
        Offer.objects.filter(tenant=tenant, membership=membership, outcome=Offer.Outcome.PENDING).values_list(
            "conversation_id", flat=True
        )
    )
    if not conversation_ids:
        return
    Offer.objects.filter(tenant=tenant, membership=membership, outcome=Offer.Outcome.PENDING).update(
        outcome=Offer.Outcome.WITHDRAWN, ended_at=now
    )
    frames = [
        (membership.user_id, events.offer_frame(event="withdrawn", conversation_id=cid)) for cid in conversation_ids
    ]
    _on_commit(events.publish_offers, frames)
    for entry in QueueEntry.objects.filter(
        tenant=tenant, conversation_id__in=conversation_ids, waiting=True, offered_to=membership
    ).select_related("conversation"):
        entry.offered_to = None
        entry.offer_expires_at = None
        entry.refresh_due()
        entry.save()
        _offer(tenant, entry, entry.conversation, settings, now)


# --- hooks from the conversation services ----------------------------------------------------------


def conversation_taken(*, tenant: Tenant, conversation: Conversation, membership: Membership) -> None:
    """An operator accepted (or was assigned) the chat. Call inside that transaction, conversation locked."""
    now = timezone.now()
    settings = selectors.settings_for(tenant=tenant)
    tenant_routing_lock(tenant.pk)
    entry = QueueEntry.objects.filter(tenant=tenant, conversation_id=conversation.pk).first()
    frames = _end_offers(tenant, conversation.pk, outcome=Offer.Outcome.WITHDRAWN, now=now, accepted_by=membership.pk)
    _on_commit(events.publish_offers, frames)
    OperatorRouting.objects.filter(tenant=tenant, membership=membership, missed_in_row__gt=0).update(missed_in_row=0)
    if entry is None or not entry.waiting:
        return
    entry.offered_to = None
    entry.offer_expires_at = None
    entry.broadcast = False
    entry.taken_at = now
    entry.taken_by = membership
    _leave_queue(tenant, entry, settings)
    entry.refresh_due()
    entry.save()


def conversation_released(*, tenant: Tenant, conversation: Conversation, by: Membership | None) -> None:
    """The chat was closed. Call inside that transaction, conversation locked.

    A chat closed while still waiting is a missed chat; an operator's closed chat frees a slot,
    so the backlog is offered right after the commit.
    """
    now = timezone.now()
    settings = selectors.settings_for(tenant=tenant)
    tenant_routing_lock(tenant.pk)
    entry = QueueEntry.objects.filter(tenant=tenant, conversation_id=conversation.pk).first()
    if entry is not None:
        frames = _end_offers(tenant, conversation.pk, outcome=Offer.Outcome.WITHDRAWN, now=now)
        _on_commit(events.publish_offers, frames)
        if entry.waiting:
            reason = MissedChat.Reason.VISITOR_LEFT if by is None else MissedChat.Reason.CLOSED_UNANSWERED
            _record_missed(tenant, entry, reason, now)
            entry.offered_to = None
            entry.offer_expires_at = None
            entry.broadcast = False
            _leave_queue(tenant, entry, settings)
        entry.sla_due_at = entry.sla_due_at if entry.sla_breached_at else None
        entry.next_due_at = entry.next_due_at if entry.next_breached_at else None
        entry.refresh_due()
        entry.save()
    if conversation.awaiting_reply_since is not None:
        # A closed chat awaits no reply; a reopened one starts a new clock at the visitor's next message.
        conversation.awaiting_reply_since = None
        Conversation.objects.filter(pk=conversation.pk, tenant=tenant).update(awaiting_reply_since=None)
    _on_commit(_drain_later, tenant)


def conversation_requeued(*, tenant: Tenant, conversation: Conversation) -> None:
    """The chat went back to the queue (transferred to a department, reopened without its operator).

    Call inside that transaction; routing runs after the commit.
    """
    _on_commit(_route_later, tenant, conversation)
    _on_commit(_drain_later, tenant)


def conversation_reopened(*, tenant: Tenant, conversation: Conversation) -> None:
    """A reopened chat stays with its operator only if they are online with room; else it is queued.

    Call inside the reopen transaction with `conversation` locked and saved; it may change and save it again.
    """
    if conversation.status == Conversation.Status.OPEN and conversation.assignee_id is not None:
        tenant_routing_lock(tenant.pk)
        room = [
            c
            for c in selectors.candidates(tenant=tenant, department_id=None)
            if c.membership.pk == conversation.assignee_id and c.load <= c.limit
        ]
        if room:
            return
        conversation.assignee = None
        conversation.status = Conversation.Status.QUEUED
        conversation.save(update_fields=["assignee", "status"])
    if conversation.status == Conversation.Status.QUEUED:
        conversation_requeued(tenant=tenant, conversation=conversation)


def conversation_transferred(*, tenant: Tenant, conversation: Conversation) -> None:
    """Transferred: to a department it is queued again; to an operator the previous one freed a slot."""
    if conversation.status == Conversation.Status.QUEUED:
        conversation_requeued(tenant=tenant, conversation=conversation)
    else:
        _on_commit(_drain_later, tenant)


@scoped_service
def reply_clock_start(*, tenant: Tenant, conversation_id: int, since: datetime) -> QueueEntry | None:
    """Start the next-response clock of a conversation whose visitor wrote at `since` after an operator's reply.

    The target (department's, else tenant's) is counted in business time from `since`. Nothing
    happens when the conversation no longer awaits a reply since `since` (answered, closed, or a
    later cycle), so a late or repeated task is harmless. Lock order as everywhere: the
    conversation row, then the entry.
    """
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().filter(pk=conversation_id, tenant=tenant).first()
        if conversation is None or conversation.is_closed or conversation.awaiting_reply_since != since:
            return None
        entry = QueueEntry.objects.select_for_update().filter(tenant=tenant, conversation=conversation).first()
        if entry is None:
            # Never queued (accepted before its routing task ran, or started by an operator): a row
            # for its clocks only, out of the queue. A router that created one meanwhile wins.
            try:
                with transaction.atomic():
                    entry = QueueEntry.objects.create(
                        tenant=tenant,
                        conversation=conversation,
                        department_id=conversation.department_id,
                        waiting=False,
                        enqueued_at=since,
                    )
            except IntegrityError:
                entry = QueueEntry.objects.select_for_update().get(tenant=tenant, conversation=conversation)
        if entry.next_started_at == since:
            return entry
        settings = selectors.settings_for(tenant=tenant)
        seconds = selectors.sla_target(
            tenant=tenant, settings=settings, department_id=conversation.department_id, kind="next"
        )
        entry.next_started_at = since
        entry.next_breached_at = None
        entry.next_due_at = (
            selectors.schedule_for(tenant=tenant, settings=settings).add_business_seconds(since, seconds)
            if seconds
            else None
        )
        entry.refresh_due()
        entry.save(update_fields=["next_started_at", "next_breached_at", "next_due_at", "due_at"])
        if entry.next_due_at is not None:
            _on_commit(
                events.publish_sla,
                tenant_id=tenant.pk,
                conversation_id=conversation.pk,
                event="started",
                kind="next",
                due_at=entry.next_due_at.isoformat(),
            )
    return entry


def _route_later(tenant: Tenant, conversation: Conversation) -> None:
    conversation_route(tenant=tenant, conversation=conversation)


def _drain_later(tenant: Tenant) -> None:
    queue_drain(tenant=tenant)


def _record_missed(tenant: Tenant, entry: QueueEntry, reason: str, now: datetime) -> None:
    waited = max(0, int((now - entry.enqueued_at).total_seconds()))
    MissedChat.objects.get_or_create(
        tenant=tenant,
        conversation_id=entry.conversation_id,
        reason=reason,
        defaults={"waited_seconds": waited, "recorded_at": now},
    )
