import uuid

import pytest


@pytest.fixture(autouse=True)
def _accounts_settings(settings):
    # allauth's rate limits count in the cache; a fresh memory cache per test keeps the
    # counts of one test (many signups from 127.0.0.1) out of the next.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    settings.PARLEY_BASE_URL = "https://parley.example"
    # These tests hash many passwords; the production hasher's cost adds nothing to what they check.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
