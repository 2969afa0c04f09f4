"""What django-scopes does NOT guard, shown so nobody relies on it.

The scoped default manager refuses reads without a tenant in scope, but:
- `.exists()` runs unfiltered: it answers for every tenant's rows;
- `.create()` runs without a scope and takes whatever tenant it is given;
- a forward foreign key (`message.conversation`) loads through the base manager,
  unscoped, even inside another tenant's scope.
That is why services take the tenant as an argument, set it on every write, and load
any object a client names through the scoped manager (see apps/core/tenancy.py).

On PostgreSQL, row-level security closes each of these holes (tests/core/test_rls.py
shows the same cases answered with nothing), so these run on SQLite only.
"""

import pytest
from django.db import connection
from django_scopes import ScopeError, scopes_disabled

from apps.accounts.models import Department
from apps.conversations.models import Message
from apps.core.tenancy import tenant_scope
from tests import factories

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor == "postgresql", reason="closed by row-level security: see test_rls.py"),
]


def test_exists_without_a_scope_is_not_blocked_and_sees_every_tenant(other_tenant):
    with scopes_disabled():
        factories.DepartmentFactory(tenant=other_tenant, name="Theirs")
    with pytest.raises(ScopeError):
        Department.objects.filter(name="Theirs").count()
    # The same question through exists() is answered, across tenants.
    assert Department.objects.exists() is True


def test_exists_on_a_filtered_unscoped_queryset_leaks_another_tenants_row(other_tenant):
    with scopes_disabled():
        factories.DepartmentFactory(tenant=other_tenant, name="Theirs")
    # exclude() is not blocked either, and exists() then runs without any tenant filter.
    assert Department.objects.exclude(name="nobody").exists() is True


def test_create_without_a_scope_is_not_blocked(tenant):
    department = Department.objects.create(tenant=tenant, name="Created unscoped")
    assert department.pk is not None
    with tenant_scope(tenant):
        assert Department.objects.get(pk=department.pk) == department


def test_create_inside_a_scope_takes_the_tenant_it_is_given_even_another_one(tenant, other_tenant):
    """The scope filters reads only: a write names its tenant, so services must set it themselves."""
    with tenant_scope(tenant):
        department = Department.objects.create(tenant=other_tenant, name="Written across")
        assert not Department.objects.filter(pk=department.pk).exists()
    assert department.tenant_id == other_tenant.pk


def test_a_forward_foreign_key_loads_unscoped_even_inside_another_tenants_scope(tenant, other_tenant):
    with scopes_disabled():
        message = factories.MessageFactory(tenant=other_tenant, body="secret")
        message_id = message.pk
        their_conversation_id = message.conversation_id
    with scopes_disabled():
        loaded = Message.objects.get(pk=message_id)
    with tenant_scope(tenant):
        # Scoped: their message is not found by the manager...
        assert not Message.objects.filter(pk=message_id).exists()
        # ...but a row already in hand follows its foreign key to the other tenant's row.
        conversation = loaded.conversation
    assert conversation.pk == their_conversation_id
    assert conversation.tenant_id == other_tenant.pk


def test_a_forward_foreign_key_loads_with_no_scope_at_all(other_tenant):
    with scopes_disabled():
        loaded = Message.objects.get(pk=factories.MessageFactory(tenant=other_tenant).pk)
    # No scope is active here, and the manager would refuse; the relation does not.
    with pytest.raises(ScopeError):
        list(Message.objects.all())
    assert loaded.conversation.tenant_id == other_tenant.pk
