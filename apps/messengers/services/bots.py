"""Connecting a tenant's Telegram bot: the token checked with getMe, the webhook set with a
secret, the state the admin sees (working, token revoked, webhook not set)."""

from __future__ import annotations

import contextlib
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Tenant
from apps.conversations.errors import BadInput, NotFound
from apps.core.tenancy import tenant_scope
from apps.invoices import keys
from apps.messengers import telegram
from apps.messengers.models import TelegramBot

Status = TelegramBot.Status


def bot_token(bot: TelegramBot) -> str:
    return keys.decrypt(bot.token_encrypted)


def client_for(bot: TelegramBot) -> telegram.TelegramClient:
    return telegram.TelegramClient(bot_token(bot))


def webhook_url(bot: TelegramBot) -> str:
    return settings.PARLEY_BASE_URL + reverse("messengers:telegram_webhook", args=[bot.webhook_id])


def _clean_token(token: object) -> str:
    if not isinstance(token, str):
        raise BadInput(_("Paste the token @BotFather gave you."), field="token")
    token = token.strip()
    # 123456789:AA... : digits, a colon, then letters, digits, - and _.
    head, colon, tail = token.partition(":")
    if (
        not colon
        or not head.isascii()
        or not head.isdigit()
        or len(token) > 100
        or not tail
        or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in tail)
    ):
        raise BadInput(_("This is not a Telegram bot token (it looks like 123456789:AAE…)."), field="token")
    return token


def _set_webhook(bot: TelegramBot, client: telegram.TelegramClient) -> None:
    try:
        client.set_webhook(url=webhook_url(bot), secret_token=bot.secret_token)
    except telegram.TelegramUnauthorized as exc:
        bot.status, bot.last_error = Status.TOKEN_REVOKED, exc.description
    except telegram.TelegramError as exc:
        bot.status, bot.last_error = Status.WEBHOOK_FAILED, exc.description
    else:
        bot.status, bot.last_error = Status.ACTIVE, ""


def telegram_bot_connect(*, tenant: Tenant, token: str) -> TelegramBot:
    """Check the token with getMe, store it encrypted and point the bot's webhook at Parley.

    A token Telegram does not accept is `BadInput` and changes nothing. A webhook Telegram
    refuses (e.g. Parley is not on HTTPS) leaves the bot saved with status `webhook_failed`
    and Telegram's reason, for the admin to see.
    """
    token = _clean_token(token)
    client = telegram.TelegramClient(token)
    try:
        me = client.get_me()
    except telegram.TelegramUnauthorized:
        raise BadInput(
            _("Telegram does not accept this token. Copy it again from @BotFather."), field="token"
        ) from None
    except telegram.TelegramError as exc:
        raise BadInput(
            _("Telegram could not be reached to check the token (%(reason)s). Try again.")
            % {"reason": exc.description},
            field="token",
        ) from None
    with tenant_scope(tenant), transaction.atomic():
        bot = TelegramBot.objects.select_for_update().filter(tenant=tenant).first()
        if bot is None:
            bot = TelegramBot(tenant=tenant, webhook_id=secrets.token_urlsafe(24))
        bot.token_encrypted = keys.encrypt(token)
        bot.bot_id, bot.username, bot.first_name = me.id, me.username[:64], me.first_name[:128]
        # A new secret with every token: updates signed for an earlier connection stop counting.
        bot.secret_token = secrets.token_urlsafe(48)
        bot.checked_at = timezone.now()
        _set_webhook(bot, client)
        try:
            with transaction.atomic():
                bot.save()
        except IntegrityError:
            raise BadInput(_("This company already has a Telegram bot."), field="token") from None
    return bot


def telegram_bot_check(*, tenant: Tenant) -> TelegramBot:
    """Ask Telegram again whether the token works and the webhook is ours; sets it again if not."""
    with tenant_scope(tenant):
        bot = TelegramBot.objects.filter(tenant=tenant).first()
        if bot is None:
            raise NotFound()
        bot.checked_at = timezone.now()
        try:
            client = client_for(bot)
            client.get_me()
            info = client.get_webhook_info()
        except telegram.TelegramUnauthorized as exc:
            bot.status, bot.last_error = Status.TOKEN_REVOKED, exc.description
        except telegram.TelegramError as exc:
            bot.last_error = exc.description
        else:
            if info.get("url") != webhook_url(bot):
                _set_webhook(bot, client)
            else:
                bot.status = Status.ACTIVE
                bot.last_error = str(info.get("last_error_message") or "")[:500]
        bot.save(update_fields=["status", "last_error", "checked_at"])
    return bot


def telegram_bot_mark_revoked(*, tenant: Tenant, bot: TelegramBot, error: str) -> None:
    with tenant_scope(tenant):
        TelegramBot.objects.filter(tenant=tenant, pk=bot.pk).update(
            status=Status.TOKEN_REVOKED, last_error=error[:500], checked_at=timezone.now()
        )


def telegram_bot_disconnect(*, tenant: Tenant) -> None:
    """Remove the webhook (best effort: a revoked token cannot) and forget the bot and its chats."""
    with tenant_scope(tenant):
        bot = TelegramBot.objects.filter(tenant=tenant).first()
        if bot is None:
            raise NotFound()
        with contextlib.suppress(telegram.TelegramError):
            client_for(bot).delete_webhook()
        bot.delete()
