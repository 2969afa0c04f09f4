"""allauth's providers as a tenant's visitors see them: the tenant's own OAuth client per provider.

allauth looks up a provider's app through the adapter (`adapter.VisitorLoginAdapter.list_apps`);
Parley answers with an unsaved `SocialApp` built from the tenant's `VisitorLoginProvider` row, for
the tenant of the login attempt in progress. Nothing is stored in allauth's own tables.

`PARLEY_OAUTH_ENDPOINTS` (empty in production) points a provider's endpoints at another,
compatible server (a staging identity provider, the tests' loopback fake): allauth reads most
of them once at import, so they are applied to its adapter classes when Parley starts.
"""

from __future__ import annotations

import importlib

from django.conf import settings

from apps.invoices import keys
from apps.visitorlogin.models import VisitorLoginProvider

# provider id -> (module of allauth's views, adapter class)
ADAPTERS = {
    "google": ("allauth.socialaccount.providers.google.views", "GoogleOAuth2Adapter"),
    "facebook": ("allauth.socialaccount.providers.facebook.views", "FacebookOAuth2Adapter"),
    "apple": ("allauth.socialaccount.providers.apple.views", "AppleOAuth2Adapter"),
    "microsoft": ("allauth.socialaccount.providers.microsoft.views", "MicrosoftGraphOAuth2Adapter"),
    "vk": ("allauth.socialaccount.providers.vk.views", "VKOAuth2Adapter"),
    "yandex": ("allauth.socialaccount.providers.yandex.views", "YandexOAuth2Adapter"),
    "mailru": ("allauth.socialaccount.providers.mailru.views", "MailRuOAuth2Adapter"),
}
ENDPOINT_ATTRIBUTES = {"authorize_url", "access_token_url", "profile_url", "identity_url", "id_token_issuer"}


def apply_endpoint_settings() -> None:
    for provider, endpoints in (getattr(settings, "PARLEY_OAUTH_ENDPOINTS", None) or {}).items():
        if provider not in ADAPTERS or not isinstance(endpoints, dict):
            continue
        module, name = ADAPTERS[provider]
        adapter = getattr(importlib.import_module(module), name)
        for attribute, url in endpoints.items():
            if attribute in ENDPOINT_ATTRIBUTES and isinstance(url, str):
                setattr(adapter, attribute, url)


def social_app(row: VisitorLoginProvider):
    from allauth.socialaccount.models import SocialApp

    return SocialApp(
        provider=row.provider,
        name=row.get_provider_display(),
        client_id=row.client_id,
        secret=keys.decrypt(row.secret_encrypted),
        key=row.key,
        settings=dict(row.settings or {}),
    )
