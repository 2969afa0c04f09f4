import json

import pytest
from django_scopes import scopes_disabled

from apps.conversations import events as conversation_events
from apps.visitorlogin import providers, services
from tests.visitorlogin.fake_oauth import CLIENTS, FakeOAuth


class RecordingLayer:
    """Stands in for the channel layer: records every group_send (the frames a socket would get)."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group, message):
        self.sent.append((group, message))

    def frames(self, group=None):
        return [json.loads(m["text"]) for g, m in self.sent if (group is None or g == group) and "text" in m]


@pytest.fixture(autouse=True)
def layer(monkeypatch):
    recording = RecordingLayer()
    monkeypatch.setattr(conversation_events, "get_channel_layer", lambda: recording)
    return recording


@pytest.fixture(autouse=True)
def _cache(settings, tmp_path):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(tmp_path)}
    }


@pytest.fixture
def fake_oauth(settings):
    """The fake provider, with Google's endpoints moved to it the way PARLEY_OAUTH_ENDPOINTS does."""
    import importlib

    fake = FakeOAuth().start()
    saved = {}
    for provider, endpoints in fake.endpoints().items():
        module, name = providers.ADAPTERS[provider]
        adapter = getattr(importlib.import_module(module), name)
        saved[adapter] = {attribute: getattr(adapter, attribute) for attribute in endpoints}
    settings.PARLEY_OAUTH_ENDPOINTS = fake.endpoints()
    providers.apply_endpoint_settings()
    yield fake
    for adapter, attributes in saved.items():
        for attribute, value in attributes.items():
            setattr(adapter, attribute, value)
    fake.stop()


def offer(tenant, provider, fake):
    client_id, secret = CLIENTS[provider]
    return services.visitor_login_provider_save(
        tenant=tenant,
        provider=provider,
        client_id=client_id,
        secret=secret,
        provider_settings=fake.microsoft_settings() if provider == "microsoft" else {},
    )


@pytest.fixture
def providers_offered(tenant, fake_oauth):
    offer(tenant, "google", fake_oauth)
    offer(tenant, "microsoft", fake_oauth)


@pytest.fixture
def unscoped():
    with scopes_disabled():
        yield
