"""Canned replies: ready answers an operator inserts into a chat with a shortcut or a hotkey.

Invariants (kept by services.py, the only writer):
- A reply has exactly one scope: the whole tenant, one department (`department` set),
  or one operator (`owner` set, a personal reply); the check constraint says so.
- A shortcut is unique within its scope: per tenant, per department, per operator.
- `sort_key` is `collation_key(title, tenant.default_language)`; `shortcut_folded` and
  `search_text` are `folded(...)` of the shortcut and of shortcut, title and text; all are
  derived on every save.
- `usage_count` is the sum of the reply's `CannedUsage.count` rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TenantOwned

SHORTCUT_MAX_CHARS = 40
TITLE_MAX_CHARS = 120
TEXT_MAX_CHARS = 4000
TAGS_MAX_CHARS = 200
HOTKEY_SLOTS = range(1, 10)


class Scope(models.TextChoices):
    TENANT = "tenant", _("Whole company")
    DEPARTMENT = "department", _("Department")
    PERSONAL = "personal", _("Personal")


class CannedReply(TenantOwned):
    scope = models.CharField(_("available to"), max_length=16, choices=Scope.choices, default=Scope.TENANT)
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_replies",
        verbose_name=_("department"),
    )
    owner = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_replies",
        verbose_name=_("operator"),
    )
    title = models.CharField(_("title"), max_length=TITLE_MAX_CHARS)
    shortcut = models.CharField(
        _("shortcut"),
        max_length=SHORTCUT_MAX_CHARS,
        help_text=_("Typed after / in the reply box, e.g. delivery. Letters, digits, - and _."),
    )
    text = models.TextField(
        _("text"),
        max_length=TEXT_MAX_CHARS,
        help_text=_(
            "Placeholders: {{visitor.name}}, {{visitor.email}}, {{operator.name}}, {{company.name}}, "
            "{{page.url}}, {{page.title}}, {{attribute.KEY}}; a fallback after |, e.g. {{visitor.name|there}}."
        ),
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="en")
    tags = models.CharField(
        _("tags"), max_length=TAGS_MAX_CHARS, blank=True, help_text=_("Separated by commas, e.g. delivery, shipping.")
    )
    usage_count = models.PositiveIntegerField(_("uses"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)
    # Derived on save (see the module docstring); never edited by hand.
    sort_key = models.CharField(max_length=1000, editable=False, default="")
    shortcut_folded = models.CharField(max_length=SHORTCUT_MAX_CHARS, editable=False, default="")
    search_text = models.TextField(editable=False, default="")

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["sort_key", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="tenant", department__isnull=True, owner__isnull=True)
                    | Q(scope="department", department__isnull=False, owner__isnull=True)
                    | Q(scope="personal", department__isnull=True, owner__isnull=False)
                ),
                name="canned_one_scope",
            ),
            models.UniqueConstraint(
                fields=["tenant", "shortcut_folded"], condition=Q(scope="tenant"), name="canned_unique_tenant_shortcut"
            ),
            models.UniqueConstraint(
                fields=["department", "shortcut_folded"],
                condition=Q(scope="department"),
                name="canned_unique_department_shortcut",
            ),
            models.UniqueConstraint(
                fields=["owner", "shortcut_folded"], condition=Q(scope="personal"), name="canned_unique_owner_shortcut"
            ),
        ]
        indexes = [
            # Prefix matches (`LIKE 'del%'`) on PostgreSQL whatever the database's collation;
            # the opclass is PostgreSQL's and ignored elsewhere. Title and text search use the
            # trigram index of migration 0002 (PostgreSQL only).
            models.Index(fields=["shortcut_folded"], opclasses=["varchar_pattern_ops"], name="canned_by_shortcut"),
            models.Index(fields=["tenant", "sort_key"], name="canned_by_sort_key"),
            # Suggestions come most used first: a broad query walks this and stops at the limit.
            models.Index(fields=["tenant", "-usage_count"], name="canned_by_usage"),
            models.Index(fields=["owner"], name="canned_by_owner"),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut} {self.title}"

    @property
    def tag_list(self) -> list[str]:
        return [tag for tag in (t.strip() for t in self.tags.split(",")) if tag]


def canned_attachment_path(instance: CannedAttachment, filename: str) -> str:
    return f"canned/{instance.tenant_id}/{instance.token}"


class CannedAttachment(TenantOwned):
    """A file sent with a reply: copied into the conversation as the operator's upload on insert."""

    reply = models.ForeignKey(CannedReply, on_delete=models.CASCADE, related_name="attachments")
    token = models.CharField(max_length=64, unique=True, editable=False)
    file = models.FileField(_("file"), upload_to=canned_attachment_path, max_length=300)
    filename = models.CharField(_("file name"), max_length=255, editable=False)
    content_type = models.CharField(_("type"), max_length=100, editable=False)
    size = models.PositiveIntegerField(_("size"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename


class CannedUsage(TenantOwned):
    """How often one operator inserted one reply."""

    reply = models.ForeignKey(CannedReply, on_delete=models.CASCADE, related_name="usages", verbose_name=_("reply"))
    membership = models.ForeignKey(
        "accounts.Membership", on_delete=models.CASCADE, related_name="canned_usages", verbose_name=_("operator")
    )
    count = models.PositiveIntegerField(_("uses"), default=0)
    last_used_at = models.DateTimeField(_("last used"), default=timezone.now)

    class Meta:
        verbose_name = _("canned reply use")
        verbose_name_plural = _("canned reply uses")
        ordering = ["-count", "id"]
        constraints = [models.UniqueConstraint(fields=["reply", "membership"], name="canned_usage_unique")]

    def __str__(self) -> str:
        return f"{self.reply_id}/{self.membership_id}: {self.count}"


class CannedHotkey(TenantOwned):
    """One of an operator's nine Alt+digit replies."""

    membership = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="canned_hotkeys")
    slot = models.PositiveSmallIntegerField(_("key"))
    reply = models.ForeignKey(CannedReply, on_delete=models.CASCADE, related_name="hotkeys")
    # Send at once, or only put the text into the reply box for editing.
    sends = models.BooleanField(_("send at once"), default=True)

    class Meta:
        verbose_name = _("hotkey")
        verbose_name_plural = _("hotkeys")
        ordering = ["slot"]
        constraints = [
            models.UniqueConstraint(fields=["membership", "slot"], name="canned_hotkey_unique_slot"),
            models.CheckConstraint(condition=Q(slot__gte=1, slot__lte=9), name="canned_hotkey_slot_range"),
        ]

    def __str__(self) -> str:
        return f"Alt+{self.slot}"
