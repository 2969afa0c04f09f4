"""Reads of visitor social login shared by the widget config and the admin."""

from __future__ import annotations

from apps.accounts.models import Tenant
from apps.core.tenancy import tenant_scope
from apps.visitorlogin.models import Provider, VisitorLoginProvider


def login_providers_for_widget(*, tenant: Tenant) -> list[dict[str, str]]:
    """The providers the tenant offers its visitors, in a fixed order: `[{"id", "name"}]`."""
    with tenant_scope(tenant):
        enabled = set(
            VisitorLoginProvider.objects.filter(tenant=tenant, enabled=True)
            .exclude(client_id="")
            .values_list("provider", flat=True)
        )
    return [{"id": value, "name": str(label)} for value, label in Provider.choices if value in enabled]
