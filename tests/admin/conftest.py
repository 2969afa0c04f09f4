import pytest
from django_scopes import scopes_disabled

from apps.accounts.models import User
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every test here logs people in; the production hasher costs about a second a user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superuser(db):
    with scopes_disabled():
        return User.objects.create_superuser(email="root@parley.test", password=PASSWORD)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client
