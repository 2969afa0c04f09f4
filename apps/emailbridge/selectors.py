"""Reads of the email bridge shared by the SMTP server, webhooks, services and the admin."""

from __future__ import annotations

from django.db.models import QuerySet
from django_scopes import scopes_disabled

from apps.accounts.models import Tenant
from apps.conversations.errors import NotFound
from apps.core.tenancy import tenant_scope
from apps.emailbridge import addressing
from apps.emailbridge.models import EmailSettings, InboundEmail


def tenant_for_recipient(address: str) -> Tenant | None:
    """The active tenant an inbound address belongs to: `<inbound token>[+tag]@domain` or a signed reply address."""
    local, domain = addressing.split_address(address)
    if domain != addressing.inbound_domain() or not local:
        return None
    ref = addressing.parse_reply_address(address)
    with scopes_disabled():
        if ref is not None:
            return Tenant.objects.filter(pk=ref.tenant_id, is_active=True).first()
        token = local.split("+", 1)[0]
        if not token or token == "reply":
            return None
        return Tenant.objects.filter(inbound_email_token=token, is_active=True).first()


def email_settings_for(tenant: Tenant) -> EmailSettings:
    """The tenant's settings, or the defaults when the admin never saved any (nothing is written)."""
    with tenant_scope(tenant):
        found = EmailSettings.objects.filter(tenant=tenant).first()
    return found if found is not None else EmailSettings(tenant=tenant)


def inbound_email_get(*, tenant: Tenant, pk: int) -> InboundEmail:
    with tenant_scope(tenant):
        found = InboundEmail.objects.filter(tenant=tenant, pk=pk).first()
    if found is None:
        raise NotFound()
    return found


def inbound_emails_needing_attention(*, tenant: Tenant) -> QuerySet[InboundEmail]:
    return InboundEmail.objects.filter(
        tenant=tenant,
        status__in=[
            InboundEmail.Status.FILTERED,
            InboundEmail.Status.IGNORED,
            InboundEmail.Status.HELD,
            InboundEmail.Status.FAILED,
        ],
    )


def inbound_email_for_message(*, tenant: Tenant, message_id: int) -> InboundEmail:
    """The mail a chat message came from; another tenant's message is NotFound like a missing one."""
    with tenant_scope(tenant):
        found = InboundEmail.objects.filter(tenant=tenant, chat_message_id=message_id).first()
    if found is None:
        raise NotFound()
    return found
