"""Mail in and out of a tenant's conversations.

Invariants:
- An `InboundEmail` row exists, with its raw bytes in storage, before anything parses it:
  a crash, a parser bug or a killed worker leaves the raw mail and a status that says
  where it stopped (`received` is picked up again by the sweeper, `failed` by a re-run).
- `(tenant, dedup_key)` is unique among delivered mail: the same Message-ID (or, without
  one, the same bytes) arriving twice becomes one conversation message.
- An `OutboundEmail` is created with its message in one transaction and sent by a task;
  its `message_id` is fixed before the first attempt, so a retry is the same mail.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TenantOwned


def raw_email_path(instance: InboundEmail, filename: str) -> str:
    day = timezone.now().strftime("%Y/%m/%d")
    return f"email/{instance.tenant_id}/{day}/{instance.token}.eml"


class EmailSettings(TenantOwned):
    """A tenant's email bridge: which mail becomes a conversation, and limits."""

    filter_words = models.TextField(
        _("keywords"),
        blank=True,
        help_text=_(
            "One word or phrase per line. When set, only mail whose subject or text contains one of them "
            "becomes a conversation; the rest is kept in the filtered list. Empty lets all mail in."
        ),
    )
    attachment_max_bytes = models.PositiveIntegerField(
        _("largest attachment (bytes)"),
        default=10 * 1024 * 1024,
        help_text=_("Larger attachments stay in the stored original and are listed, not added to the chat."),
    )
    inbound_per_hour = models.PositiveIntegerField(
        _("inbound mail per hour"),
        default=600,
        help_text=_("More mail than this in one hour waits in the held list until an admin re-runs it."),
    )
    auto_acknowledge = models.BooleanField(
        _("acknowledge new email conversations"),
        default=False,
        help_text=_("Send an automatic reply to a new sender (never to auto-replies, bounces or lists)."),
    )
    from_name = models.CharField(
        _("sender name"), max_length=120, blank=True, help_text=_("Defaults to the company name.")
    )

    class Meta:
        verbose_name = _("email settings")
        verbose_name_plural = _("email settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="emailsettings_one_per_tenant")]

    def __str__(self) -> str:
        return str(_("Email settings"))

    @property
    def words(self) -> list[str]:
        return [line.strip().casefold() for line in self.filter_words.splitlines() if line.strip()]


class InboundEmail(TenantOwned):
    class Source(models.TextChoices):
        SMTP = "smtp", _("SMTP")
        MAILGUN = "mailgun", _("Mailgun")
        POSTMARK = "postmark", _("Postmark")
        AMAZON_SES = "amazon_ses", _("Amazon SES")
        ADMIN = "admin", _("Re-run")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received, not parsed yet")
        DELIVERED = "delivered", _("In a conversation")
        FILTERED = "filtered", _("Filtered out")
        IGNORED = "ignored", _("Automatic mail, not answered")
        HELD = "held", _("Held (rate limit)")
        DUPLICATE = "duplicate", _("Duplicate")
        FAILED = "failed", _("Failed")

    token = models.CharField(max_length=40, unique=True, editable=False)
    source = models.CharField(_("received through"), max_length=16, choices=Source.choices)
    raw = models.FileField(_("original"), upload_to=raw_email_path, max_length=300)
    raw_size = models.PositiveIntegerField(_("size"))
    envelope_from = models.CharField(_("envelope sender"), max_length=320, blank=True)
    envelope_to = models.CharField(_("recipient"), max_length=320, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    # Why it is filtered, ignored, held or failed: machine-readable codes, shown translated.
    flags = models.JSONField(_("flags"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("parse attempts"), default=0)
    parsed_at = models.DateTimeField(_("parsed"), null=True, blank=True)

    # What the parser found (empty until parsed).
    message_id = models.CharField(_("Message-ID"), max_length=998, blank=True)
    dedup_key = models.CharField(max_length=64, blank=True, db_index=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    from_address = models.CharField(_("from"), max_length=320, blank=True)
    from_name = models.CharField(_("sender name"), max_length=200, blank=True)
    to = models.TextField(_("to"), blank=True)
    cc = models.TextField(_("cc"), blank=True)
    sent_at = models.DateTimeField(_("date"), null=True, blank=True)
    text = models.TextField(_("full text"), blank=True)
    display_text = models.TextField(_("text shown"), blank=True)
    html = models.TextField(_("sanitised HTML"), blank=True)
    attachments = models.JSONField(_("attachments"), default=list, blank=True)

    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    chat_message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("inbound email")
        verbose_name_plural = _("inbound email")
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["tenant", "status", "-received_at"], name="inboundemail_by_status"),
            models.Index(fields=["tenant", "message_id"], name="inboundemail_by_message_id"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "dedup_key"],
                condition=models.Q(status="delivered"),
                name="inboundemail_delivered_once",
            )
        ]

    def __str__(self) -> str:
        return self.subject or self.message_id or self.token


class OutboundEmail(TenantOwned):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        REPLY = "reply", _("Operator reply")
        ACKNOWLEDGEMENT = "ack", _("Automatic acknowledgement")
        TRANSCRIPT = "transcript", _("Chat transcript")

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="outbound_emails"
    )
    chat_message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.REPLY)
    to_address = models.CharField(_("to"), max_length=320)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("text"))
    message_id = models.CharField(_("Message-ID"), max_length=300, unique=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    attachment_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound email")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.to_address}: {self.subject}"


def email_max_bytes() -> int:
    """The largest message Parley takes, over SMTP and from webhooks alike."""
    return int(getattr(settings, "PARLEY_EMAIL_MAX_BYTES", 25 * 1024 * 1024))
