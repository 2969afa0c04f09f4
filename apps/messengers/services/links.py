"""The deep link that moves a widget conversation to Telegram: `t.me/<bot>?start=<token>`.

The token is random (32 URL-safe characters, within Telegram's 64 for a start parameter),
stored only as its SHA-256, good once and for `PARLEY_TELEGRAM_LINK_MINUTES` minutes, and
looked up within the bot's tenant only: another tenant's token is an unknown one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Tenant
from apps.conversations.errors import Conflict, NotFound, RateLimited
from apps.conversations.models import Conversation, Visitor
from apps.core.ratelimit import rate_limit_exceeded
from apps.core.tenancy import tenant_scope
from apps.messengers.models import TelegramBot, TelegramLink

LINKS_PER_VISITOR_PER_HOUR = 20


def link_minutes() -> int:
    return int(getattr(settings, "PARLEY_TELEGRAM_LINK_MINUTES", 10))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def telegram_link_create(*, tenant: Tenant, visitor: Visitor, conversation: Conversation | None = None) -> str:
    """A fresh deep link for the visitor (and their open conversation): the `https://t.me/...` URL."""
    if visitor.tenant_id != tenant.pk or (conversation is not None and conversation.tenant_id != tenant.pk):
        raise NotFound()
    with tenant_scope(tenant):
        bot = TelegramBot.objects.filter(tenant=tenant, status=TelegramBot.Status.ACTIVE).first()
        if bot is None:
            raise Conflict(_("This chat cannot be continued in Telegram right now."))
        if rate_limit_exceeded(
            f"telegram-link:{tenant.pk}:{visitor.pk}", limit=LINKS_PER_VISITOR_PER_HOUR, period=3600
        ):
            raise RateLimited()
        token = secrets.token_urlsafe(24)
        with transaction.atomic():
            TelegramLink.objects.create(
                tenant=tenant,
                token_hash=token_hash(token),
                visitor=visitor,
                conversation=conversation,
                expires_at=timezone.now() + timedelta(minutes=link_minutes()),
            )
    return f"https://t.me/{bot.username}?start={token}"


def telegram_link_consume(*, tenant: Tenant, token: str) -> TelegramLink | None:
    """The link for `token` if it is this tenant's, unused and not expired; marks it used. Else None."""
    if not isinstance(token, str) or not 16 <= len(token) <= 64:
        return None
    now = timezone.now()
    with tenant_scope(tenant), transaction.atomic():
        link = (
            TelegramLink.objects.select_for_update().filter(tenant=tenant, token_hash=token_hash(token)).first()
        )
        if link is None or link.used_at is not None or link.expires_at <= now:
            return None
        link.used_at = now
        link.save(update_fields=["used_at"])
    return link
