"""Visitors logging in with a social account, per tenant.

- `VisitorLoginProvider`: which of allauth's providers a tenant offers its visitors, with the
  tenant's own OAuth client (id, secret stored encrypted, never shown back in full).
- `VisitorLoginAttempt`: one popup login. Its nonce is random, stored hashed, good once and for
  a few minutes; it ties the provider's answer to the visitor who opened the popup.
The proven account becomes an `apps.identity` `VisitorIdentity` with source `social:<provider>`.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.tenancy import TenantOwned


class Provider(models.TextChoices):
    GOOGLE = "google", "Google"
    FACEBOOK = "facebook", "Facebook"
    APPLE = "apple", "Apple"
    MICROSOFT = "microsoft", "Microsoft"
    VK = "vk", _("VK")
    YANDEX = "yandex", _("Yandex")
    MAILRU = "mailru", "Mail.ru"


class VisitorLoginProvider(TenantOwned):
    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    enabled = models.BooleanField(_("offered to visitors"), default=True)
    client_id = models.CharField(_("client id"), max_length=300)
    secret_encrypted = models.TextField(editable=False, blank=True)
    key = models.CharField(_("key"), max_length=300, blank=True, help_text=_("Apple: the key id. Others: leave empty."))
    settings = models.JSONField(
        _("provider settings"),
        default=dict,
        blank=True,
        help_text=_('Optional, as allauth documents them, e.g. Microsoft: {"tenant": "consumers"}.'),
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("visitor login provider")
        verbose_name_plural = _("visitor login providers")
        ordering = ["provider"]
        constraints = [models.UniqueConstraint(fields=["tenant", "provider"], name="visitorloginprovider_once")]

    def __str__(self) -> str:
        return self.get_provider_display()


class VisitorLoginAttempt(TenantOwned):
    nonce_hash = models.CharField(max_length=64, unique=True)
    visitor = models.ForeignKey("conversations.Visitor", on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("visitor login")
        verbose_name_plural = _("visitor logins")
