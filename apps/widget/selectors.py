"""Reads behind the widget's public endpoints."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.urls import reverse

from apps.accounts.models import Membership, Tenant
from apps.core.tenancy import tenant_scope
from apps.messengers.selectors import telegram_widget_config
from apps.routing import selectors as routing_selectors
from apps.visitorlogin.selectors import login_providers_for_widget
from apps.widget.models import WidgetSettings

LANGUAGE_CODES = tuple(code for code, _name in settings.LANGUAGES)


_WIDGET_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")


def tenant_for_widget_key(key: str) -> Tenant | None:
    """The active tenant whose public widget key is `key`; unknown and inactive keys look the same."""
    # Keys are URL-safe base64 (`new_widget_key`): anything else, a NUL included, is unknown
    # without asking the database (PostgreSQL refuses NUL in a query).
    if not isinstance(key, str) or not _WIDGET_KEY.fullmatch(key):
        return None
    # Tenant is a platform row (not tenant-owned): looking it up by its public key needs no scope.
    return Tenant.objects.filter(widget_key=key, is_active=True).first()


def widget_settings_for(*, tenant: Tenant) -> WidgetSettings:
    with tenant_scope(tenant):
        found = WidgetSettings.objects.filter(tenant=tenant).first()
    return found or WidgetSettings.defaults_for(tenant)


def operators_online(*, tenant: Tenant) -> bool:
    """Whether a visitor can expect an operator to answer now.

    The tenant is active, inside its business hours (apps.routing) and has an active operator;
    who is online decides the queue (positions, retention), not whether the chat shows.
    """
    if not tenant.is_active or not routing_selectors.is_open(tenant=tenant):
        return False
    with tenant_scope(tenant):
        return Membership.objects.filter(tenant=tenant, is_active=True).exists()


def logo_url_for(widget: WidgetSettings) -> str:
    """An uploaded logo is served by the widget itself (media files may not be public); else the URL."""
    if widget.logo:
        path = reverse("widget:logo", args=[widget.tenant.widget_key])
        return f"{settings.PARLEY_BASE_URL}{path}?v={int(widget.updated_at.timestamp())}"
    return widget.logo_url


def ink_for(colour: str) -> str:
    """Text colour on the brand colour: dark on a light one, white on a dark one (perceived brightness)."""
    try:
        value = int(colour.lstrip("#"), 16)
    except ValueError:
        return "#fff"
    red, green, blue = value >> 16, (value >> 8) & 255, value & 255
    return "#111" if 0.299 * red + 0.587 * green + 0.114 * blue > 160 else "#fff"


def widget_config(*, tenant: Tenant) -> dict[str, Any]:
    """The public, cacheable description of a tenant's widget the loader fetches.

    Holds only what any visitor of the tenant's site may see; nothing about visitors.
    """
    widget = widget_settings_for(tenant=tenant)
    return {
        "key": tenant.widget_key,
        "name": tenant.name,
        "title": widget.title or tenant.name,
        "colour": widget.colour,
        "ink": ink_for(widget.colour),
        "position": widget.position,
        "logo": logo_url_for(widget),
        "launcher_text": widget.launcher_text,
        "greeting_new": widget.greeting_new,
        "greeting_returning": widget.greeting_returning,
        "prechat": {
            "enabled": widget.prechat_enabled,
            "email": widget.prechat_email,
            "phone": widget.prechat_phone,
        },
        "offline": widget.offline_behaviour,
        "language": widget.language,
        "default_language": tenant.default_language,
        "online": operators_online(tenant=tenant),
        "version": int(widget.updated_at.timestamp()) if widget.pk else 0,
        # {"bot": username} when the tenant's Telegram bot works: the chat offers "Continue in Telegram".
        "telegram": telegram_widget_config(tenant=tenant),
        # [{"id", "name"}]: the social logins the tenant offers ("log in so we remember you").
        "login_providers": login_providers_for_widget(tenant=tenant),
    }


def frame_language(*, widget_language: str, requested: str | None, default: str) -> str:
    """The iframe's language: the tenant's fixed choice, else the browser's (passed by the loader)."""
    if widget_language in LANGUAGE_CODES:
        return widget_language
    requested = (requested or "").lower()[:2]
    if requested in LANGUAGE_CODES:
        return requested
    return default if default in LANGUAGE_CODES else settings.LANGUAGE_CODE


def frame_ancestors(*, tenant: Tenant) -> str:
    """The CSP `frame-ancestors` sources for the chat iframe: the tenant's allowed domains.

    A domain without a port would only match the scheme's default port, so `:*` is added
    (the origin rule of the API ignores ports too). Parley's own pages ('self', e.g. the
    preview page) may always frame it, as the API always accepts Parley's own origin.
    """
    domains = tenant.allowed_domain_list
    if not domains:
        return "frame-ancestors http: https:"
    sources: list[str] = ["'self'"]
    for domain in domains:
        host = domain.strip().rstrip(".")
        if not host or any(ch in host for ch in " ;,'\""):
            continue
        hosts = [host]
        if host.startswith("*."):
            hosts.append(host[2:])
        for item in hosts:
            sources.append(f"https://{item}:*")
            sources.append(f"http://{item}:*")
    return "frame-ancestors " + " ".join(sources)
