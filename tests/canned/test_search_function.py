"""`canned_reply_search()` (migration 0005): the substring tiers on the trigram indexes, as the bypass
role, for the tenant in `parley.tenant_id` only (PostgreSQL)."""

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from apps.canned import selectors
from apps.canned.models import Scope
from apps.core import rls
from apps.core.tenancy import tenant_scope

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def search_ids(membership, query, *, shortcut=True, language=None, limit=10):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, tier FROM canned_reply_search(%s, %s, %s, %s, %s)",
            [membership.pk, query if shortcut else None, query.split(), language, limit],
        )
        return cursor.fetchall()


def test_it_runs_as_the_bypass_role_and_only_the_roles_of_parley_may_call_it():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.prosecdef, pg_get_userbyid(p.proowner), p.proconfig,
                   has_function_privilege('public', p.oid, 'EXECUTE'),
                   has_function_privilege(%s, p.oid, 'EXECUTE')
            FROM pg_proc p WHERE p.proname = 'canned_reply_search'
            """,
            [rls.app_role()],
        )
        # pg_temp last: a temporary table cannot stand in for one of the function's tables.
        config = ["search_path=pg_catalog, public, pg_temp"]
        assert cursor.fetchall() == [(True, rls.bypass_role(), config, False, True)]
    assert selectors._indexed_search()  # the selector uses it


def test_without_a_tenant_in_the_setting_it_returns_nothing(tenant, operator, make_reply):
    make_reply("xdelivery", "Delivery", "delivery times")
    with tenant_scope(tenant):
        assert [tier for _, tier in search_ids(operator, "deliv")] == [1]
    assert search_ids(operator, "deliv") == []  # app role, no scope
    with scopes_disabled():  # bypass role, no tenant: still nothing
        assert search_ids(operator, "deliv") == []


def test_it_never_returns_another_tenants_reply_whoever_asks(
    tenant, operator, other_tenant, other_operator, make_reply
):
    make_reply("mine", "Mine", "ordinary words")
    make_reply("xsecret", "Theirs", "zanzibar quokka", on=other_tenant)
    make_reply("xsecretpersonal", "Theirs too", "zanzibar quokka", on=other_tenant, scope=Scope.PERSONAL,
               owner=other_operator)  # fmt: skip
    with tenant_scope(other_tenant):  # the words exist, in the other tenant
        assert len(search_ids(other_operator, "zanzibar quokka", shortcut=False)) == 2
        assert len(search_ids(other_operator, "secret")) == 2
    with tenant_scope(tenant):
        for membership in (operator, other_operator):  # even with the other tenant's operator
            assert search_ids(membership, "zanzibar quokka", shortcut=False) == []
            assert search_ids(membership, "secret") == []
            assert search_ids(membership, "zanzibar") == []
        assert selectors.canned_search(tenant=tenant, membership=operator, query="zanzibar") == []
        assert selectors.canned_search(tenant=tenant, membership=operator, query="secret") == []


def test_it_applies_the_visibility_of_the_operator(tenant, operator, colleague, sales, support, make_reply):
    shared = make_reply("xhold-shared")
    own_department = make_reply("xhold-sales", scope=Scope.DEPARTMENT, department=sales)
    make_reply("xhold-support", scope=Scope.DEPARTMENT, department=support)
    own = make_reply("xhold-mine", scope=Scope.PERSONAL, owner=operator)
    theirs = make_reply("xhold-theirs", scope=Scope.PERSONAL, owner=colleague)
    with tenant_scope(tenant):
        assert sorted(id_ for id_, _ in search_ids(operator, "hold")) == sorted([shared.pk, own_department.pk, own.pk])
        assert sorted(id_ for id_, _ in search_ids(colleague, "hold")) == sorted([shared.pk, theirs.pk])


def test_tiers_limit_language_and_wildcards(tenant, operator, make_reply):
    make_reply("del", "Del", "prefix: not the function's tier")
    make_reply("xdel", "Cross", "shortcut contains")
    make_reply("zz", "Delivery", "title contains", language="ru")
    make_reply("pct", "Percent", "50% off")
    make_reply("other", "Other", "500 off axb a\\b")
    make_reply("three", "Three words", "alpha beta gamma")
    with tenant_scope(tenant):
        assert [tier for _, tier in search_ids(operator, "del")] == [1, 2]
        assert [tier for _, tier in search_ids(operator, "del", limit=1)] == [1]
        assert [tier for _, tier in search_ids(operator, "del", language="ru")] == [2]
        assert len(search_ids(operator, "50%")) == 1
        assert search_ids(operator, "_") == []
        for wildcard in ("a_b", "a%b", "%%%", "___"):  # on the trigram index: LIKE, its wildcards escaped
            assert search_ids(operator, wildcard) == []
        assert len(search_ids(operator, "a\\b")) == 1
        assert len(search_ids(operator, "gamma beta alpha", shortcut=False)) == 1
        assert search_ids(operator, "gamma beta delta", shortcut=False) == []
        assert len(search_ids(operator, "ha be ga", shortcut=False)) == 1  # short words: strpos()
        assert search_ids(operator, "ha be de", shortcut=False) == []
    found = selectors.canned_search(tenant=tenant, membership=operator, query="del", language="ru")
    assert [reply["shortcut"] for reply in found] == ["zz"]
