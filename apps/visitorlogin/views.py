"""HTTP of visitor social login: the widget's start call and the popup's first page.

The popup runs first-party on Parley's origin (the widget iframe's cookies may be partitioned),
with `Cross-Origin-Opener-Policy: unsafe-none` on its pages so the widget keeps its handle.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from apps.core.http import read_json
from apps.visitorlogin import services
from apps.visitorlogin.adapter import SESSION_KEY, popup_response
from apps.widget.api import authenticate_visitor, widget_endpoint


@widget_endpoint("POST")
def widget_login_start(request: HttpRequest) -> HttpResponse:
    """`{provider}` -> `{"url": popup URL}` for the visitor of the token; an unoffered provider is 404."""
    tenant, visitor = authenticate_visitor(request)
    provider = read_json(request).get("provider")
    url = services.visitor_login_start(
        tenant=tenant, visitor=visitor, provider=provider if isinstance(provider, str) else ""
    )
    return JsonResponse({"url": url})


@require_GET
def begin(request: HttpRequest, nonce: str) -> HttpResponse:
    """The popup's first page: note the attempt in this window's session, then on to allauth."""
    try:
        attempt = services.attempt_for_nonce(nonce)
        login_url = reverse(f"{attempt.provider}_login")
    except (services.LoginRefused, NoReverseMatch):
        return popup_response(request, "visitorlogin/done.html", {"ok": False, "message": services.refusal_text()}, 404)
    request.session[SESSION_KEY] = {"tenant": attempt.tenant_id, "attempt": attempt.pk, "provider": attempt.provider}
    response = popup_response(
        request,
        "visitorlogin/begin.html",
        {"login_url": login_url, "provider": attempt.get_provider_display()},
    )
    # The form posts to allauth, which redirects to the provider: CSP's form-action covers that redirect.
    response._csp_update = {"form-action": ["https:", *provider_origins(services.provider_login_url(attempt))]}
    return response


def provider_origins(*extra: str) -> list[str]:
    """Origins of endpoints moved by PARLEY_OAUTH_ENDPOINTS or a tenant's Microsoft `login_url`
    (a staging or test provider may be plain http)."""
    origins = []
    urls = list(extra)
    for endpoints in (getattr(settings, "PARLEY_OAUTH_ENDPOINTS", None) or {}).values():
        urls += list(endpoints.values()) if isinstance(endpoints, dict) else []
    for url in urls:
        if url:
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts and parts.scheme in ("http", "https") and parts.netloc and " " not in url and ";" not in url:
                origins.append(f"{parts.scheme}://{parts.netloc}")
    return sorted(set(origins))
