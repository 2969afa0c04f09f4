import pytest


@pytest.fixture(autouse=True)
def _accounts_settings(settings):
    # allauth's rate limits count in the cache; a per-test memory cache keeps runs independent.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.PARLEY_BASE_URL = "https://parley.example"
    # These tests hash many passwords; the production hasher's cost adds nothing to what they check.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
