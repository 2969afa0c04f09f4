"""An operator's message in a Telegram conversation is queued for Telegram: hooked on the message
row itself, so every way an operator writes (dashboard socket, API, admin) sends it.

Queued when the message's transaction commits (its files are joined to it after the row is
saved, within that transaction); a reply that a crash between the commit and the queueing
left behind is found by the sweeper (`telegram_outbound_sweep`)."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from apps.conversations.models import Message


@receiver(post_save, sender=Message, dispatch_uid="parley.messengers.operator_message")
def telegram_operator_message(sender, instance: Message, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw or instance.author_type != Message.Author.OPERATOR:
        return
    if instance.kind not in (Message.Kind.TEXT, Message.Kind.ATTACHMENT):
        return
    conversation = instance._state.fields_cache.get("conversation")
    if conversation is not None and conversation.channel != "telegram":
        return  # the common case (a widget reply) costs no query
    from apps.core.tenancy import on_commit_in_scope

    tenant_id, message_id = instance.tenant_id, instance.pk
    on_commit_in_scope(lambda: _queue(tenant_id, message_id), robust=True)


def _queue(tenant_id: int, message_id: int) -> None:
    from apps.accounts.models import Tenant
    from apps.core.tenancy import tenant_scope
    from apps.messengers.services import telegram_reply_queue

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return
    with tenant_scope(tenant):
        message = Message.objects.filter(tenant=tenant, pk=message_id).select_related("author__user").first()
        if message is not None:
            telegram_reply_queue(tenant=tenant, message=message)
