"""What the dashboard stores of its own: each operator's availability switch.

Routing builds on `OperatorStatus`: only `online` operators get offers; `paused`
keeps the operator's open chats but takes no new ones; `offline` is gone.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TenantOwned


class OperatorStatus(TenantOwned):
    class Status(models.TextChoices):
        ONLINE = "online", _("Online")
        PAUSED = "paused", _("Paused")
        OFFLINE = "offline", _("Offline")

    membership = models.OneToOneField(
        "accounts.Membership", on_delete=models.CASCADE, related_name="operator_status", verbose_name=_("operator")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OFFLINE)
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        verbose_name = _("operator status")
        verbose_name_plural = _("operator statuses")
        indexes = [models.Index(fields=["tenant", "status"], name="operatorstatus_by_status")]

    def __str__(self) -> str:
        return f"{self.membership_id}: {self.status}"
