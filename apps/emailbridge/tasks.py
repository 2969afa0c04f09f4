"""Celery tasks of the email bridge: thin, they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from apps.accounts.models import Tenant
from apps.core.tenancy import tenant_task
from apps.emailbridge import services
from apps.emailbridge.models import InboundEmail


@shared_task(name="emailbridge.parse", acks_late=True)
@tenant_task
def email_parse(tenant: Tenant, inbound_id: int) -> str | None:
    inbound = InboundEmail.objects.filter(tenant=tenant, pk=inbound_id).first()
    if inbound is None:
        return None
    return services.inbound_email_process(tenant=tenant, inbound=inbound).status


@shared_task(name="emailbridge.sweep")
def email_sweep() -> int:
    return services.inbound_emails_sweep()
