from celery import shared_task
from django_scopes import scopes_disabled

from apps.core.tenancy import tenant_task
from apps.invoices import services


@shared_task(name="invoices.expire_overdue")
def expire_overdue() -> int:
    """Beat sweeper: each tenant with sent invoices past their due date gets its own scoped task."""
    from apps.invoices.models import Invoice

    with scopes_disabled():
        tenant_ids = set(
            Invoice.objects.filter(status=Invoice.Status.SENT, due_date__lt=services.today_utc()).values_list(
                "tenant_id", flat=True
            )
        )
    for tenant_id in sorted(tenant_ids):
        expire_overdue_for_tenant.delay(tenant_id)
    return len(tenant_ids)


@shared_task(name="invoices.expire_overdue_for_tenant")
@tenant_task
def expire_overdue_for_tenant(tenant) -> int:
    return services.invoice_expire_overdue(tenant=tenant)
