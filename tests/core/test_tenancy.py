import pytest
from django.apps import apps
from django_scopes import ScopeError, scopes_disabled

from apps.accounts.models import Department, Membership
from apps.core.tenancy import TenantOwned, tenant_scope
from tests import factories

PLATFORM_MODELS = {"accounts.tenant", "accounts.user"}


def tenant_owned_models():
    for model in apps.get_models():
        if model._meta.app_label.startswith("apps") or model.__module__.startswith("apps."):
            yield model


def test_every_model_with_a_tenant_uses_the_scoped_manager():
    """A model that stores a tenant but can be queried without one would leak across tenants."""
    unscoped = []
    for model in apps.get_models():
        fields = {f.name for f in model._meta.get_fields()}
        label = model._meta.label_lower
        if label in PLATFORM_MODELS or "tenant" not in fields:
            continue
        manager = model._default_manager
        is_scoped = issubclass(model, TenantOwned) and hasattr(manager, "with_scopes_disabled")
        if not is_scoped:
            unscoped.append(label)
    assert unscoped == []


def test_every_app_model_is_tenant_owned_or_declared_platform_wide():
    stray = [
        m._meta.label_lower
        for m in tenant_owned_models()
        if m._meta.label_lower not in PLATFORM_MODELS and not issubclass(m, TenantOwned)
        and not m._meta.auto_created
    ]
    assert stray == []


@pytest.mark.django_db
def test_a_query_without_a_tenant_in_scope_raises():
    with pytest.raises(ScopeError):
        list(Membership.objects.all())
    with pytest.raises(ScopeError):
        Department.objects.filter(name="x").count()


@pytest.mark.django_db
def test_a_scope_shows_only_the_tenants_own_rows(tenant, other_tenant):
    with scopes_disabled():
        mine = factories.DepartmentFactory(tenant=tenant, name="Sales")
        factories.DepartmentFactory(tenant=other_tenant, name="Sales")
    with tenant_scope(tenant):
        assert list(Department.objects.all()) == [mine]
        with pytest.raises(Department.DoesNotExist):
            Department.objects.exclude(pk=mine.pk).get(name="Sales")


def test_tenant_scope_refuses_none():
    with pytest.raises(ValueError), tenant_scope(None):
        pass
