"""Reads of the messengers app shared by the widget, the dashboard and the admin."""

from __future__ import annotations

from typing import Any

from apps.accounts.models import Tenant
from apps.conversations.models import Visitor
from apps.core.tenancy import tenant_scope
from apps.messengers.models import TelegramBot, TelegramChat


def telegram_bot_for(*, tenant: Tenant) -> TelegramBot | None:
    with tenant_scope(tenant):
        return TelegramBot.objects.filter(tenant=tenant).first()


def telegram_widget_config(*, tenant: Tenant) -> dict[str, Any] | None:
    """What the widget needs to offer "Continue in Telegram": the bot's username, when it works."""
    with tenant_scope(tenant):
        username = (
            TelegramBot.objects.filter(tenant=tenant, status=TelegramBot.Status.ACTIVE)
            .values_list("username", flat=True)
            .first()
        )
    return {"bot": username} if username else None


def visitor_channels(*, tenant: Tenant, visitor: Visitor) -> dict[str, Any]:
    """The visitor's messenger chats for the operator's card (`visitor` loaded through the tenant)."""
    with tenant_scope(tenant):
        chats = list(
            TelegramChat.objects.filter(tenant=tenant, visitor=visitor).select_related("bot").order_by("-created_at")
        )
    return {
        "telegram": [
            {
                "username": chat.username,
                "name": chat.name,
                "bot": chat.bot.username,
                "blocked": chat.blocked_at is not None,
                "started_at": chat.created_at.isoformat(),
            }
            for chat in chats
        ]
    }
