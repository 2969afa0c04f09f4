import pytest


@pytest.fixture(autouse=True)
def _local_cache(settings):
    # allauth's rate limits count in the cache; a per-test memory cache keeps runs independent.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.PARLEY_BASE_URL = "https://parley.example"
