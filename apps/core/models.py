"""The base of every tenant-owned row.

It lives here, apart from `apps/core/tenancy.py`, so that `apps/accounts/models.py` can
use it without importing the tenancy module that itself needs `Tenant` and `Membership`:
the models import nothing from tenancy, and tenancy imports the models.
"""

from __future__ import annotations

from django.db import models
from django_scopes import ScopedManager


class TenantOwned(models.Model):
    """Base for every row that belongs to one tenant: a non-null tenant, and a default manager that
    refuses to query unless a tenant is in scope (`apps.core.tenancy.tenant_scope`)."""

    tenant = models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
    )

    objects = ScopedManager(tenant="tenant")

    class Meta:
        abstract = True
