"""Celery tasks of routing: thin, each calls one sweeper or service (idempotent and lock-safe)."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from apps.conversations.models import Conversation
from apps.core.tasks import TransactionAwareTask
from apps.core.tenancy import tenant_task

from . import services, sweeps


@shared_task(name="routing.sweep", ignore_result=True, soft_time_limit=20, time_limit=30)
def sweep() -> dict[str, int]:
    return sweeps.sweep_all()


@shared_task(name="routing.presence_audit", ignore_result=True, soft_time_limit=20, time_limit=30)
def presence_audit() -> int:
    return sweeps.presence_audit()


@shared_task(
    name="routing.conversation_route", base=TransactionAwareTask, ignore_result=True, soft_time_limit=20, time_limit=30
)
@tenant_task
def conversation_route(tenant, conversation_id: int) -> None:
    conversation = Conversation.objects.filter(pk=conversation_id, tenant=tenant).first()
    if conversation is not None:
        services.conversation_route(tenant=tenant, conversation=conversation)


@shared_task(
    name="routing.reply_clock_start", base=TransactionAwareTask, ignore_result=True, soft_time_limit=20, time_limit=30
)
@tenant_task
def reply_clock_start(tenant, conversation_id: int, since: str) -> None:
    services.reply_clock_start(tenant=tenant, conversation_id=conversation_id, since=datetime.fromisoformat(since))
