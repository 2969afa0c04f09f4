import pytest
from django_scopes import scopes_disabled

from apps.accounts.models import Department
from apps.core.tenancy import tenant_task
from tests import factories


@tenant_task
def count_departments(tenant):
    return tenant.slug, Department.objects.count()


@pytest.mark.django_db
def test_a_task_body_runs_scoped_to_the_tenant_it_names(tenant, other_tenant):
    with scopes_disabled():
        factories.DepartmentFactory(tenant=tenant)
        factories.DepartmentFactory(tenant=other_tenant)
        factories.DepartmentFactory(tenant=other_tenant)
    assert count_departments(tenant.pk) == ("acme", 1)
    assert count_departments(other_tenant.pk) == ("globex", 2)


@pytest.mark.django_db
def test_a_task_for_an_inactive_or_missing_tenant_does_nothing(tenant):
    tenant.is_active = False
    tenant.save()
    assert count_departments(tenant.pk) is None
    assert count_departments(999999) is None
