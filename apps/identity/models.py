"""Who a visitor is, beyond the first-party id the widget keeps.

- `IdentitySettings`: one row per tenant with the secret its own server signs its
  logged-in users with, and whether the widget requires such a proof.
- `VisitorIdentity`: a proven identity joined to one visitor, unique per tenant and
  `(source, subject)`: the tenant's own user id (`source="site"`) or, later, a social
  provider's account id. The same identity on another device leads to the same visitor.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TenantOwned

SITE_SOURCE = "site"


def new_identity_secret() -> str:
    return "is_" + secrets.token_urlsafe(32)


class IdentitySettings(TenantOwned):
    secret = models.CharField(
        _("identity secret"),
        max_length=100,
        default=new_identity_secret,
        editable=False,
        help_text=_("Your server signs your users' identity with it. Keep it on the server; never put it in a page."),
    )
    required = models.BooleanField(
        _("require verified visitors"),
        default=False,
        help_text=_("The chat opens only for visitors whose identity your site has signed."),
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("identity verification")
        verbose_name_plural = _("identity verification")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="identitysettings_one_per_tenant")]

    def __str__(self) -> str:
        return str(_("Identity verification"))


class VisitorIdentity(TenantOwned):
    visitor = models.ForeignKey(
        "conversations.Visitor", on_delete=models.CASCADE, related_name="identities", verbose_name=_("visitor")
    )
    source = models.CharField(_("source"), max_length=32)
    subject = models.CharField(_("user id"), max_length=255)
    name = models.CharField(_("name"), max_length=120, blank=True)
    email = models.EmailField(_("email"), blank=True)
    verified_at = models.DateTimeField(_("verified"), default=timezone.now)

    class Meta:
        verbose_name = _("visitor identity")
        verbose_name_plural = _("visitor identities")
        ordering = ["-verified_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "source", "subject"], name="visitoridentity_unique_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.subject}"
