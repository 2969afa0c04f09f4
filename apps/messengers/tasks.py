"""Celery tasks of the messengers app: thin, they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from apps.accounts.models import Tenant
from apps.core.tenancy import tenant_scope
from apps.messengers import services, telegram
from apps.messengers.models import TelegramChat, TelegramUpdate

UPDATE_RETRIES = 5


@shared_task(name="messengers.telegram_update", bind=True, acks_late=True, max_retries=UPDATE_RETRIES)
def telegram_update(self, tenant_id: int, update_id: int) -> str | None:
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return None
    with tenant_scope(tenant):
        row = TelegramUpdate.objects.filter(tenant=tenant, pk=update_id).first()
    if row is None:
        return None
    try:
        return services.telegram_update_process(tenant=tenant, update=row).status
    except telegram.TelegramUnreachable as exc:
        # Telegram's file server did not answer; the update stays `received` (the sweeper has it too).
        if self.request.is_eager or self.request.retries >= UPDATE_RETRIES:
            return TelegramUpdate.Status.RECEIVED
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc


@shared_task(name="messengers.telegram_flush", bind=True, acks_late=True, max_retries=None)
def telegram_flush(self, tenant_id: int, chat_pk: int) -> int | None:
    """Send a chat's queue in order; come back when flood control or the bot's budget says to wait."""
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return None
    with tenant_scope(tenant):
        chat = TelegramChat.objects.filter(tenant=tenant, pk=chat_pk).first()
    if chat is None:
        return None
    try:
        return services.telegram_chat_flush(tenant=tenant, chat=chat)
    except services.FlushLater as later:
        if self.request.is_eager:
            return None  # eager (tests, `make run` without a worker): the sweeper comes back for it
        raise self.retry(countdown=max(1.0, later.countdown)) from None


@shared_task(name="messengers.telegram_sweep")
def telegram_sweep() -> int:
    """Updates a dead worker left unprocessed, and replies whose task was lost."""
    return services.telegram_updates_sweep() + services.telegram_outbound_sweep()
