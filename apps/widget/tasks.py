from celery import shared_task

from apps.core.tasks import TransactionAwareTask
from apps.core.tenancy import tenant_task
from apps.widget import services


@shared_task(
    name="widget.transcript_send",
    base=TransactionAwareTask,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
@tenant_task
def transcript_send(tenant, conversation_id: int, email: str, language: str = "") -> bool:
    return services.transcript_email_send(
        tenant=tenant, conversation_id=conversation_id, email=email, language=language
    )
