import os

import pytest
from django_scopes import scopes_disabled

from apps.accounts.models import Role
from tests import factories

# Chromium, the host page and screenshots for the browser tests (tests/shared/browser.py).
pytest_plugins = ["tests.shared.browser"]

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _no_scope_leaks():
    """Fixtures build rows unscoped; each test decides its own scope."""
    yield


@pytest.fixture
def tenant(db):
    with scopes_disabled():
        return factories.TenantFactory(name="Acme", slug="acme")


@pytest.fixture
def other_tenant(db):
    with scopes_disabled():
        return factories.TenantFactory(name="Globex", slug="globex")


def _member(tenant, role, email):
    with scopes_disabled():
        return factories.MembershipFactory(tenant=tenant, role=role, user__email=email)


@pytest.fixture
def owner(tenant):
    return _member(tenant, Role.OWNER, "owner@acme.test")


@pytest.fixture
def operator(tenant):
    return _member(tenant, Role.OPERATOR, "operator@acme.test")


@pytest.fixture
def other_owner(other_tenant):
    return _member(other_tenant, Role.OWNER, "owner@globex.test")


@pytest.fixture
def other_operator(other_tenant):
    return _member(other_tenant, Role.OPERATOR, "operator@globex.test")


@pytest.fixture
def visitor(tenant):
    with scopes_disabled():
        return factories.VisitorFactory(tenant=tenant)


@pytest.fixture
def other_visitor(other_tenant):
    with scopes_disabled():
        return factories.VisitorFactory(tenant=other_tenant)


@pytest.fixture
def conversation(tenant, visitor):
    with scopes_disabled():
        return factories.ConversationFactory(tenant=tenant, visitor=visitor)


@pytest.fixture
def other_conversation(other_tenant, other_visitor):
    with scopes_disabled():
        return factories.ConversationFactory(tenant=other_tenant, visitor=other_visitor)


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.postgres` tests skip on SQLite; CI (PARLEY_REQUIRE_POSTGRES=1) refuses to run without it."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    if os.environ.get("PARLEY_REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError("PARLEY_REQUIRE_POSTGRES=1 but DATABASE_URL is not PostgreSQL")
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


_skipped_postgres_tests: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and "postgres" in report.keywords and os.environ.get("PARLEY_REQUIRE_POSTGRES") == "1":
        _skipped_postgres_tests.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _skipped_postgres_tests:
        print("\nPostgreSQL-only tests were skipped in a run that requires them:")
        for nodeid in _skipped_postgres_tests:
            print("  " + nodeid)
        session.exitstatus = 1
