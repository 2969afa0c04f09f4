"""An operator's message in an email conversation is mailed: hooked on the message row itself,
so every way an operator writes (dashboard socket, API, admin) sends it, inside the same transaction."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from apps.conversations.models import Message


@receiver(post_save, sender=Message, dispatch_uid="parley.emailbridge.operator_message")
def mail_operator_message(sender, instance: Message, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw or instance.author_type != Message.Author.OPERATOR:
        return
    conversation = instance._state.fields_cache.get("conversation")
    if conversation is not None and conversation.channel != "email":
        return  # the common case (a chat reply) costs no query
    from apps.accounts.models import Tenant
    from apps.emailbridge.services.outbound import email_reply_queue

    tenant = (
        Tenant.objects.get(pk=instance.tenant_id) if "tenant" not in instance._state.fields_cache else instance.tenant
    )
    email_reply_queue(tenant=tenant, message=instance)
