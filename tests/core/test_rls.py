"""Row-level security on PostgreSQL: a query that forgets its scope sees and writes nothing.

Each django-scopes blind spot (tests/core/test_scope_blind_spots.py, SQLite only) is tried
here with the scope deliberately bypassed in the ORM, as the application role.
"""

import pytest
from django.db import DatabaseError, connection, transaction
from django_scopes import scopes_disabled

from apps.accounts.models import Department
from apps.conversations.models import Conversation, Message
from apps.core import rls
from apps.core.tenancy import tenant_scope
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _current() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, coalesce(current_setting('parley.tenant_id', true), '')")
        return cursor.fetchone()


@pytest.fixture
def their_message(other_tenant):
    with scopes_disabled():
        return factories.MessageFactory(tenant=other_tenant, body="secret")


def test_every_tenant_owned_table_forces_its_policy_and_the_app_role_cannot_bypass_it():
    tables = rls.tenant_owned_tables()
    assert "conversations_message" in tables and "accounts_membership" in tables
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c
            WHERE c.relname = ANY(%s) AND c.relrowsecurity AND c.relforcerowsecurity
              AND EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname AND p.policyname = %s)
            """,
            [tables, rls.POLICY_NAME],
        )
        protected = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname IN (%s, %s) ORDER BY rolname",
            [rls.app_role(), rls.bypass_role()],
        )
        roles = {name: (superuser, bypass) for name, superuser, bypass in cursor.fetchall()}
    assert protected == tables
    assert roles[rls.app_role()] == (False, False)
    assert roles[rls.bypass_role()] == (False, True)


def test_work_runs_as_the_app_role_with_the_scopes_tenant(tenant):
    assert _current() == (rls.app_role(), "")
    with tenant_scope(tenant):
        assert _current() == (rls.app_role(), str(tenant.pk))
    with scopes_disabled():
        assert _current() == (rls.bypass_role(), "")
    assert _current() == (rls.app_role(), "")


def test_exists_without_a_scope_sees_no_tenants_rows(other_tenant):
    with scopes_disabled():
        factories.DepartmentFactory(tenant=other_tenant, name="Theirs")
        assert Department.objects.exists()
    assert Department.objects.exists() is False
    assert Department.objects.exclude(name="nobody").exists() is False


def test_a_forward_foreign_key_to_another_tenant_loads_nothing_inside_a_scope(tenant, their_message):
    with scopes_disabled():
        loaded = Message.objects.get(pk=their_message.pk)
    with tenant_scope(tenant), pytest.raises(Conversation.DoesNotExist):
        loaded.conversation  # noqa: B018
    # No scope at all: the unscoped base manager meets the policy instead of django-scopes.
    with pytest.raises(Conversation.DoesNotExist):
        Conversation._base_manager.get(pk=their_message.conversation_id)


def test_the_base_manager_and_raw_sql_see_only_the_scoped_tenant(tenant, their_message):
    with scopes_disabled():
        mine = factories.MessageFactory(tenant=tenant, body="mine")
    with tenant_scope(tenant):
        assert list(Message._base_manager.values_list("pk", flat=True)) == [mine.pk]
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM conversations_message")
            assert [row[0] for row in cursor.fetchall()] == [mine.pk]
        # An update or delete that names the other tenant's row touches nothing.
        assert Message._base_manager.filter(pk=their_message.pk).update(body="overwritten") == 0
        assert Message._base_manager.filter(pk=their_message.pk).delete()[0] == 0
    with scopes_disabled():
        assert Message.objects.get(pk=their_message.pk).body == "secret"


def test_a_write_for_another_tenant_fails(tenant, other_tenant):
    with tenant_scope(tenant), pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        Department.objects.create(tenant=other_tenant, name="Written across")
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        Department.objects.create(tenant=tenant, name="Written without a scope")
    with scopes_disabled():
        assert not Department.objects.filter(name__startswith="Written").exists()


def test_moving_a_row_to_another_tenant_fails(tenant, other_tenant):
    with scopes_disabled():
        department = factories.DepartmentFactory(tenant=tenant, name="Ours")
    with tenant_scope(tenant), pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        Department._base_manager.filter(pk=department.pk).update(tenant=other_tenant)


def test_the_setting_does_not_outlive_its_transaction(tenant, other_tenant):
    with scopes_disabled():
        factories.DepartmentFactory(tenant=tenant, name="Ours")
    with tenant_scope(tenant), transaction.atomic():
        assert Department._base_manager.count() == 1
    # Same connection, next statement, no scope: nothing is visible any more.
    assert Department._base_manager.count() == 0
    with tenant_scope(tenant):
        try:
            with transaction.atomic():
                assert Department._base_manager.count() == 1
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        assert Department._base_manager.count() == 1
    with tenant_scope(other_tenant):
        assert Department._base_manager.count() == 0


@pytest.mark.django_db(transaction=True)
def test_autocommit_statements_follow_the_scope_too(tenant, other_tenant):
    with scopes_disabled():
        factories.DepartmentFactory(tenant=tenant, name="Ours")
    assert connection.get_autocommit()
    with tenant_scope(tenant):
        assert Department._base_manager.count() == 1
    with tenant_scope(other_tenant):
        assert Department._base_manager.count() == 0
    assert Department._base_manager.count() == 0
