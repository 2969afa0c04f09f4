"""Messenger channels: a tenant's Telegram bot, the chats people open with it, the updates
it receives and the replies Parley sends back.

Invariants:
- One `TelegramBot` per tenant. Its token is stored encrypted (`apps.invoices.keys`, Fernet)
  and never shown back in full. `webhook_id` (in the webhook URL) and `secret_token` (the
  `X-Telegram-Bot-Api-Secret-Token` header Telegram sends with every update) are random and
  Parley's own; the token itself never appears in a URL Parley serves.
- `(bot, update_id)` is unique: an update Telegram delivers twice is processed once.
- `(bot, chat_id)` is unique: one Telegram chat is one visitor of the tenant.
- A `TelegramLink` (the deep link's `start` parameter) is stored hashed, single-use and
  expires in minutes.
- `(message, part)` is unique on `TelegramOutbound`: an operator's message becomes a fixed
  list of Telegram calls before the first attempt, and a sent part is never sent again.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TenantOwned


class TelegramBot(TenantOwned):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Working")
        TOKEN_REVOKED = "token_revoked", _("Token revoked or wrong")
        WEBHOOK_FAILED = "webhook_failed", _("Webhook not set")

    token_encrypted = models.TextField(editable=False)
    bot_id = models.BigIntegerField(_("bot id"), editable=False)
    username = models.CharField(_("bot username"), max_length=64, editable=False)
    first_name = models.CharField(_("bot name"), max_length=128, blank=True, editable=False)
    webhook_id = models.CharField(max_length=48, unique=True, editable=False)
    secret_token = models.CharField(max_length=128, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    checked_at = models.DateTimeField(_("checked"), default=timezone.now)
    created_at = models.DateTimeField(_("connected"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("Telegram bot")
        verbose_name_plural = _("Telegram bots")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="telegrambot_one_per_tenant")]

    def __str__(self) -> str:
        return f"@{self.username}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class TelegramChat(TenantOwned):
    """A private chat between one Telegram user and the tenant's bot, tied to one visitor."""

    bot = models.ForeignKey(TelegramBot, on_delete=models.CASCADE, related_name="chats")
    chat_id = models.BigIntegerField(_("chat id"))
    visitor = models.ForeignKey(
        "conversations.Visitor", on_delete=models.CASCADE, related_name="telegram_chats", verbose_name=_("visitor")
    )
    username = models.CharField(_("Telegram username"), max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    # Set when Telegram says the person blocked the bot (or deleted the chat): nothing is sent then.
    blocked_at = models.DateTimeField(_("blocked the bot"), null=True, blank=True)
    # A 429's retry_after: no message leaves for this chat before then.
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("started"), default=timezone.now)

    class Meta:
        verbose_name = _("Telegram chat")
        verbose_name_plural = _("Telegram chats")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["bot", "chat_id"], name="telegramchat_unique_chat")]

    def __str__(self) -> str:
        return f"@{self.username}" if self.username else (self.name or str(self.chat_id))


class TelegramUpdate(TenantOwned):
    """One update as Telegram sent it, stored before it is processed."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    bot = models.ForeignKey(TelegramBot, on_delete=models.CASCADE, related_name="updates")
    update_id = models.BigIntegerField()
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("Telegram update")
        verbose_name_plural = _("Telegram updates")
        constraints = [models.UniqueConstraint(fields=["bot", "update_id"], name="telegramupdate_once")]
        indexes = [models.Index(fields=["status", "received_at"], name="telegramupdate_pending")]

    def __str__(self) -> str:
        return f"update {self.update_id}"


class TelegramLink(TenantOwned):
    """The single-use, short-lived token of a `t.me/<bot>?start=<token>` deep link."""

    token_hash = models.CharField(max_length=64, unique=True)
    visitor = models.ForeignKey("conversations.Visitor", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("Telegram link")
        verbose_name_plural = _("Telegram links")


class TelegramOutbound(TenantOwned):
    """One Telegram call carrying (a part of) an operator's message."""

    class Method(models.TextChoices):
        MESSAGE = "sendMessage", "sendMessage"
        PHOTO = "sendPhoto", "sendPhoto"
        DOCUMENT = "sendDocument", "sendDocument"

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Not delivered")

    chat = models.ForeignKey(TelegramChat, on_delete=models.CASCADE, related_name="outbound")
    # None for Parley's own lines to the chat (a greeting, "you are connected").
    chat_message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    part = models.PositiveSmallIntegerField(default=0)
    method = models.CharField(max_length=16, choices=Method.choices)
    text = models.TextField(blank=True)
    attachment = models.ForeignKey(
        "conversations.Attachment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    telegram_message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Telegram message sent")
        verbose_name_plural = _("Telegram messages sent")
        ordering = ["created_at", "part"]
        constraints = [
            models.UniqueConstraint(fields=["chat_message", "chat", "part"], name="telegramoutbound_once"),
        ]
        indexes = [models.Index(fields=["chat", "status", "created_at"], name="telegramoutbound_queue")]

    def __str__(self) -> str:
        return f"{self.method} #{self.chat_message_id}.{self.part}"
