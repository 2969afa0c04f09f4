"""Visitors, their conversations and the messages in them.

Invariants:
- `Message.seq` is 1, 2, 3, ... per conversation with no gaps; it is taken from
  `Conversation.last_seq` while the conversation row is locked (services only).
- `(conversation, client_id)` is unique: a resend with the same client id is the
  same message.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TenantOwned


class Visitor(TenantOwned):
    """Someone on a tenant's site, known by the first-party id the widget loader keeps."""

    anonymous_id = models.CharField(_("anonymous id"), max_length=64)
    name = models.CharField(_("name"), max_length=120, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    user_agent = models.CharField(_("browser"), max_length=400, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    # Start of the current visit; a visit ends after 30 minutes without a page view.
    visit_started_at = models.DateTimeField(_("visit started"), default=timezone.now)
    visit_count = models.PositiveIntegerField(_("visits"), default=1)
    current_url = models.URLField(_("current page"), max_length=2000, blank=True)
    current_title = models.CharField(_("current page title"), max_length=300, blank=True)
    referrer = models.URLField(_("referrer"), max_length=2000, blank=True)
    attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    # Set when the tenant's site signed who this visitor is (apps.identity): its user id, and when.
    external_id = models.CharField(_("user id on the site"), max_length=255, blank=True)
    verified_at = models.DateTimeField(_("identity verified"), null=True, blank=True)
    avatar_url = models.URLField(_("avatar"), max_length=2000, blank=True)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "anonymous_id"], name="visitor_unique_anonymous_id"),
        ]
        indexes = [models.Index(fields=["tenant", "-last_seen_at"], name="visitor_recent")]

    def __str__(self) -> str:
        return self.name or self.email or _("Visitor %(id)s") % {"id": self.pk}

    @property
    def is_returning(self) -> bool:
        return self.visit_count > 1


class PageView(TenantOwned):
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="page_views")
    url = models.URLField(_("page"), max_length=2000)
    title = models.CharField(_("title"), max_length=300, blank=True)
    referrer = models.URLField(_("referrer"), max_length=2000, blank=True)
    viewed_at = models.DateTimeField(_("viewed"), default=timezone.now)

    class Meta:
        verbose_name = _("page view")
        verbose_name_plural = _("page views")
        ordering = ["-viewed_at"]
        indexes = [models.Index(fields=["visitor", "-viewed_at"], name="pageview_by_visitor")]

    def __str__(self) -> str:
        return self.url


class VisitorNote(TenantOwned):
    """What operators know about a visitor, kept across conversations."""

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey("accounts.Membership", null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(_("note"), max_length=4000)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("visitor note")
        verbose_name_plural = _("visitor notes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.body[:60]


class Conversation(TenantOwned):
    class Channel(models.TextChoices):
        WIDGET = "widget", _("Widget")
        EMAIL = "email", _("Email")
        TELEGRAM = "telegram", _("Telegram")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        CLOSED = "closed", _("Closed")

    class Rating(models.TextChoices):
        GOOD = "good", _("Good")
        BAD = "bad", _("Bad")

    # The one definition of "open": every status but closed. A visitor's next message goes into
    # their open conversation, if any (selectors.open_conversation_for_visitor).
    OPEN_STATUSES = (Status.QUEUED, Status.OPEN, Status.PENDING)

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="conversations")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.WIDGET)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    assignee = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
        verbose_name=_("assignee"),
    )
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        verbose_name=_("department"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    first_reply_at = models.DateTimeField(_("first operator reply"), null=True, blank=True)
    # After the first reply: when the visitor wrote with no operator reply since (the next-response
    # clock of routing's SLA); set and cleared in the same statement that stores a message.
    awaiting_reply_since = models.DateTimeField(_("awaiting a reply since"), null=True, blank=True)
    last_message_at = models.DateTimeField(_("last message"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    last_seq = models.PositiveIntegerField(_("last sequence number"), default=0)
    # Highest seq each side has read; unread counts are last_seq minus these (own messages aside).
    visitor_read_seq = models.PositiveIntegerField(default=0)
    operator_read_seq = models.PositiveIntegerField(default=0)
    rating = models.CharField(_("rating"), max_length=8, choices=Rating.choices, blank=True)
    rating_comment = models.TextField(_("rating comment"), max_length=2000, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at"]
        indexes = [
            models.Index(fields=["tenant", "status", "-last_message_at"], name="conversation_by_status"),
            models.Index(fields=["tenant", "assignee", "status"], name="conversation_by_assignee"),
            models.Index(fields=["visitor", "-created_at"], name="conversation_by_visitor"),
            # Routing's safety net reads the queued chats (few) across tenants on every sweep.
            models.Index(fields=["created_at"], name="conversation_queued", condition=models.Q(status="queued")),
        ]

    def __str__(self) -> str:
        return _("Conversation #%(id)s") % {"id": self.pk}

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


class Message(TenantOwned):
    class Author(models.TextChoices):
        VISITOR = "visitor", _("Visitor")
        OPERATOR = "operator", _("Operator")
        SYSTEM = "system", _("System")

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        SYSTEM = "system", _("System")
        NOTE = "note", _("Private note")
        ATTACHMENT = "attachment", _("Attachment")
        INVOICE = "invoice", _("Invoice")
        EMAIL = "email", _("Email")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField(_("sequence number"))
    author_type = models.CharField(_("author"), max_length=16, choices=Author.choices)
    author = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.TEXT)
    # Plain text as written; escaped wherever it is rendered, never trusted as HTML.
    body = models.TextField(_("text"), blank=True)
    client_id = models.CharField(_("client id"), max_length=64)
    # Machine-readable detail for system messages (event code, names), so they translate on display.
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_seq"),
            models.UniqueConstraint(fields=["conversation", "client_id"], name="message_unique_client_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.body[:60]}"

    @property
    def is_private(self) -> bool:
        return self.kind == self.Kind.NOTE


def attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name never contains the visitor's filename: that stays in `filename`.
    return f"attachments/{instance.tenant_id}/{instance.token}"


class Attachment(TenantOwned):
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="attachments")
    token = models.CharField(max_length=64, unique=True)
    # Who uploaded it: only that side may attach it to a message, and a visitor never sees
    # an operator's file until it is sent in a public message.
    uploader_side = models.CharField(
        _("uploaded by"),
        max_length=16,
        choices=[("visitor", _("Visitor")), ("operator", _("Operator"))],
        default="visitor",
    )
    file = models.FileField(upload_to=attachment_path, max_length=300)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_image(self) -> bool:
        return self.content_type in {"image/png", "image/jpeg", "image/gif", "image/webp"}
