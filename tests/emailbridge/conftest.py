from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from apps.emailbridge import services
from apps.emailbridge.models import InboundEmail


@pytest.fixture(autouse=True)
def _media_and_cache(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Each test counts its own inbound rate limit.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(tmp_path)}
    }


@pytest.fixture
def receive(django_capture_on_commit_callbacks):
    """Deliver raw bytes as the SMTP server would, run the parse task, return the stored row."""

    def _receive(raw: bytes, *, to: str, envelope_from: str | None = "sender@example.com", source: str = "smtp"):
        with django_capture_on_commit_callbacks(execute=True):
            row = services.inbound_email_receive(raw=raw, recipient=to, envelope_from=envelope_from, source=source)
        with scopes_disabled():
            return InboundEmail.objects.get(pk=row.pk)

    return _receive
