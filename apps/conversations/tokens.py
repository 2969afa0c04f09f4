"""Visitor tokens and the widget's origin rule: one authentication for the widget's socket and HTTP API.

A visitor token is a signed, timestamped `(tenant id, visitor id)` pair issued by
`POST /widget/api/session` for a widget key and an allowed origin. It authenticates the
widget's HTTP calls and `/ws/widget/` through one function, `visitor_authenticate`; it
carries no secret and grants nothing but that one visitor of that one tenant.

The Origin rule (one, for both): a request that carries an `Origin` must name one the
tenant allows (or Parley's own). A request without one is refused where a browser always
sends one (a websocket handshake, any write: POST), and answered for a read (GET), which
browsers send without `Origin` from the same origin and from `<img>`; the bearer token
is the credential there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing

from apps.conversations.errors import InvalidVisitorToken

if TYPE_CHECKING:
    from apps.accounts.models import Tenant
    from apps.conversations.models import Visitor

__all__ = [
    "InvalidVisitorToken",
    "origin_allowed",
    "visitor_authenticate",
    "visitor_token_issue",
    "visitor_token_read",
]

VISITOR_TOKEN_SALT = "parley.visitor"
VISITOR_TOKEN_MAX_AGE = 30 * 24 * 3600


def visitor_token_issue(*, tenant: Tenant, visitor: Visitor) -> str:
    if visitor.tenant_id != tenant.pk:
        raise ValueError("the visitor belongs to another tenant")
    return signing.dumps([tenant.pk, visitor.pk], salt=VISITOR_TOKEN_SALT, compress=False)


def visitor_token_read(token: str, *, max_age: int = VISITOR_TOKEN_MAX_AGE) -> tuple[int, int]:
    """Return `(tenant_id, visitor_id)`, or raise `InvalidVisitorToken` (forged, expired or malformed)."""
    if not isinstance(token, str) or not token or len(token) > 200:
        raise InvalidVisitorToken()
    try:
        payload = signing.loads(token, salt=VISITOR_TOKEN_SALT, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError) as exc:  # SignatureExpired is a BadSignature
        raise InvalidVisitorToken() from exc
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not all(type(item) is int and item > 0 for item in payload)
    ):
        raise InvalidVisitorToken()
    return payload[0], payload[1]


def _origin_parts(origin: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username or parts.password:
        return None
    default_port = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), port or default_port


def parley_origin_parts() -> tuple[str, str, int | None] | None:
    return _origin_parts(settings.PARLEY_BASE_URL)


def origin_allowed(tenant: Tenant, origin: str | None) -> bool:
    """Whether a page on `origin` may talk to `tenant`'s widget endpoints.

    Parley's own origin (it serves the chat iframe) is always allowed; otherwise the
    host must be one of the tenant's allowed domains. A missing or opaque (`null`)
    origin is refused: browsers send one on every call this rule guards.
    """
    if not origin or origin == "null":
        return False
    parts = _origin_parts(origin)
    if parts is None:
        return False
    if parts == parley_origin_parts():
        return True
    return tenant.allows_origin_host(parts[1])


def origin_is_parley(origin: str | None) -> bool:
    """Whether `origin` is Parley's own (the chat iframe's)."""
    if not origin or origin == "null":
        return False
    parts = _origin_parts(origin)
    return parts is not None and parts == parley_origin_parts()


def preflight_allowed(widget_key: str | None, origin: str | None) -> bool:
    """Whether a CORS preflight from `origin` is granted for the widget whose key the query names.

    A preflight carries no body and no token, so the loader puts its public widget key in the
    query (`?key=`). A known key grants that tenant's allowed origins; no key or an unknown one,
    Parley's own origin only (its chat iframe). Missing and `null` origins are never granted.
    """
    from apps.widget.selectors import tenant_for_widget_key

    if origin_is_parley(origin):
        return True
    tenant = tenant_for_widget_key(widget_key) if widget_key else None
    return tenant is not None and origin_allowed(tenant, origin)


def origin_well_formed(origin: str | None) -> bool:
    return bool(origin) and origin != "null" and _origin_parts(origin) is not None


def visitor_authenticate(*, token: str | None, origin: str | None, origin_required: bool) -> tuple[Tenant, Visitor]:
    """The active tenant and the visitor of a visitor token, under the Origin rule above.

    Raises `InvalidVisitorToken` (401 / socket 4401: no, forged or expired token, an inactive
    tenant, a deleted visitor) or `Forbidden` (403 / socket 4403: an Origin the tenant does not
    allow, or none where one is required). `origin_required`: True for a websocket handshake
    and for writes.
    """
    from django.utils.translation import gettext

    from apps.accounts.models import Tenant
    from apps.conversations.errors import Forbidden
    from apps.conversations.models import Visitor
    from apps.core.tenancy import tenant_scope

    tenant_id, visitor_id = visitor_token_read(token or "")
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        raise InvalidVisitorToken()
    with tenant_scope(tenant):
        visitor = Visitor.objects.filter(pk=visitor_id, tenant=tenant).first()
    if visitor is None:
        raise InvalidVisitorToken()
    if (origin is not None or origin_required) and not origin_allowed(tenant, origin):
        raise Forbidden(gettext("This site may not use this chat."))
    return tenant, visitor
