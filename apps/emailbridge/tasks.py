"""Celery tasks of the email bridge: thin, they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from apps.accounts.models import Tenant
from apps.core.tasks import TransactionAwareTask
from apps.core.tenancy import tenant_scope, tenant_task
from apps.emailbridge import services
from apps.emailbridge.models import InboundEmail


@shared_task(name="emailbridge.parse", acks_late=True)
@tenant_task
def email_parse(tenant: Tenant, inbound_id: int) -> str | None:
    inbound = InboundEmail.objects.filter(tenant=tenant, pk=inbound_id).first()
    if inbound is None:
        return None
    return services.inbound_email_process(tenant=tenant, inbound=inbound).status


SEND_RETRIES = 5


@shared_task(name="emailbridge.send", base=TransactionAwareTask, bind=True, acks_late=True, max_retries=SEND_RETRIES)
def email_send(self, tenant_id: int, outbound_id: int) -> str | None:
    """Send one mail; on a transport error retry with backoff (1, 2, 4, 8, 16 minutes), then mark it failed."""
    import smtplib

    from apps.emailbridge.models import OutboundEmail

    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return None
    with tenant_scope(tenant):
        outbound = OutboundEmail.objects.filter(tenant=tenant, pk=outbound_id).first()
    if outbound is None:
        return None
    try:
        return services.outbound_email_send(tenant=tenant, outbound=outbound).status
    except (OSError, smtplib.SMTPException) as exc:
        if self.request.retries >= SEND_RETRIES:
            return services.outbound_email_fail(
                tenant=tenant, outbound=outbound, error=f"{type(exc).__name__}: {exc}"
            ).status
        raise self.retry(exc=exc, countdown=60 * 2**self.request.retries) from exc
    except Exception as exc:
        # Not a transport problem (a missing file, a bug): retrying will not help; show it as failed.
        services.outbound_email_fail(tenant=tenant, outbound=outbound, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(name="emailbridge.sweep")
def email_sweep() -> int:
    """Inbound mail a dead worker left unparsed, and operator replies no hook queued."""
    return services.inbound_emails_sweep() + services.outbound_emails_sweep()
