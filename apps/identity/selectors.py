"""Reads about visitor identity shared by the widget API, the admin and the dashboard."""

from __future__ import annotations

from apps.accounts.models import Tenant
from apps.conversations.models import Visitor
from apps.core.tenancy import tenant_scope
from apps.identity.models import IdentitySettings


def identity_settings(*, tenant: Tenant) -> IdentitySettings | None:
    with tenant_scope(tenant):
        return IdentitySettings.objects.filter(tenant=tenant).first()


def external_id_of(*, tenant: Tenant, anonymous_id: str) -> str:
    """The site's user id the visitor with this first-party id was proven as ("" if none)."""
    with tenant_scope(tenant):
        return (
            Visitor.objects.filter(tenant=tenant, anonymous_id=anonymous_id)
            .values_list("external_id", flat=True)
            .first()
            or ""
        )
