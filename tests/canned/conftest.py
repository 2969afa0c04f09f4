import pytest
from django.test import Client
from django_scopes import scopes_disabled

from apps.accounts.models import Role
from apps.canned import services
from apps.canned.models import Scope
from tests import factories
from tests.dashboard.conftest import op_client  # noqa: F401


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def sales(tenant, operator):
    with scopes_disabled():
        department = factories.DepartmentFactory(tenant=tenant, name="Sales")
        department.members.add(operator)
    return department


@pytest.fixture
def support(tenant):
    with scopes_disabled():
        return factories.DepartmentFactory(tenant=tenant, name="Support")


@pytest.fixture
def colleague(tenant):
    with scopes_disabled():
        return factories.MembershipFactory(tenant=tenant, role=Role.OPERATOR, user__email="colleague@acme.test")


@pytest.fixture
def make_reply(tenant):
    def make(shortcut, title=None, text=None, *, scope=Scope.TENANT, department=None, owner=None, on=None, **extra):
        return services.canned_reply_create(
            tenant=on or tenant,
            scope=scope,
            department=department,
            owner=owner,
            shortcut=shortcut,
            title=title or shortcut.title(),
            text=text or f"Text of {shortcut}",
            **extra,
        )

    return make


@pytest.fixture
def other_client(other_operator):
    client = Client()
    client.force_login(other_operator.user)
    return client
