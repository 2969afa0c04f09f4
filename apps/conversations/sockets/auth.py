"""Who is on the other end of a websocket: resolved once, in ASGI middleware, before the consumer runs.

The middleware never closes a socket itself. It puts what it found in the scope
(`parley_tenant` and `parley_visitor` or `parley_membership`) or, when the handshake
must be refused, `parley_refusal` = 4401 (not authenticated) or 4403 (origin or tenant
refused). The consumer accepts and closes with that code, because a browser only sees a
close code on an accepted socket (a rejected handshake is an anonymous HTTP 403).
"""

from __future__ import annotations

from importlib import import_module
from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.http.request import split_domain_port, validate_host
from django.utils.crypto import constant_time_compare
from django.utils.translation.trans_real import get_supported_language_variant, parse_accept_lang_header

from apps.accounts.models import Membership, Tenant
from apps.conversations.errors import Forbidden, InvalidVisitorToken
from apps.conversations.models import Visitor
from apps.conversations.tokens import visitor_authenticate
from apps.core.tenancy import SESSION_TENANT_KEY, active_membership, tenant_scope

CLOSE_UNAUTHENTICATED = 4401
CLOSE_REFUSED = 4403


def header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def language_from_headers(scope, preferred: str = "") -> str:
    """The user's language if set, else the browser's Accept-Language, else the default."""
    candidates = [preferred] if preferred else []
    candidates += [code for code, _q in parse_accept_lang_header(header(scope, b"accept-language") or "")]
    for code in candidates:
        if not code or code == "*":
            continue
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def dashboard_origin_allowed(origin: str | None) -> bool:
    """The dashboard is Parley's own page: its Origin host must be one of ALLOWED_HOSTS."""
    if not origin or origin == "null":
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return False
    host, _port = split_domain_port(parts.netloc)
    return bool(host) and validate_host(host, settings.ALLOWED_HOSTS)


def _visitor_for_token(token: str | None, origin: str | None) -> tuple[Tenant | None, Visitor | None, int | None]:
    """`visitor_authenticate` (the widget's HTTP API uses the same), its refusals as close codes."""
    try:
        tenant, visitor = visitor_authenticate(token=token, origin=origin, origin_required=True)
    except InvalidVisitorToken:
        return None, None, CLOSE_UNAUTHENTICATED
    except Forbidden:
        return None, None, CLOSE_REFUSED
    return tenant, visitor, None


class VisitorTokenAuthMiddleware(BaseMiddleware):
    """`/ws/widget/?token=...`: a signed visitor token, and an Origin the token's tenant allows."""

    async def __call__(self, scope, receive, send):
        # This frame lives as long as the socket: it keeps only the scope and nothing of the handshake's
        # work. The scope is URLRouter's own copy for this connection (`dict(scope, url_route=...)`), so
        # it is filled in place rather than copied again (a dict per idle socket).
        await self.authenticate(scope)
        return await self.inner(scope, receive, send)

    @staticmethod
    async def authenticate(scope: dict) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("token") or [None])[0]
        tenant, visitor, refusal = await database_sync_to_async(_visitor_for_token)(token, header(scope, b"origin"))
        scope["parley_tenant"] = tenant
        scope["parley_visitor"] = visitor
        scope["parley_refusal"] = refusal
        preferred = (visitor.language if visitor is not None else "") or ""
        scope["parley_language"] = language_from_headers(scope, preferred)


def _membership_for(user, session) -> object | None:
    # active_membership() is the platform lookup across the user's tenants (it crosses scopes itself).
    membership = active_membership(user, session.get(SESSION_TENANT_KEY) if session is not None else None)
    if membership is not None:
        membership.user  # noqa: B018  (load it here, not lazily in the event loop)
    return membership


class OperatorAuthMiddleware(BaseMiddleware):
    """`/ws/app/`: runs inside AuthMiddlewareStack; needs a dashboard Origin, a user and an active membership."""

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        scope["parley_tenant"] = None
        scope["parley_membership"] = None
        scope["parley_refusal"] = None
        user = scope.get("user")
        if not dashboard_origin_allowed(header(scope, b"origin")):
            scope["parley_refusal"] = CLOSE_REFUSED
        elif user is None or not user.is_authenticated:
            scope["parley_refusal"] = CLOSE_UNAUTHENTICATED
        else:
            membership = await database_sync_to_async(_membership_for)(user, scope.get("session"))
            if membership is None:
                scope["parley_refusal"] = CLOSE_REFUSED
            else:
                scope["parley_membership"] = membership
                scope["parley_tenant"] = membership.tenant
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        scope["parley_language"] = language_from_headers(scope, language)
        return await self.inner(scope, receive, send)  # the scope is copied once, above


def visitor_still_allowed(tenant: Tenant, visitor_id: int) -> int | None:
    """None while a visitor socket's handshake would still succeed, else the close code."""
    if not Tenant.objects.filter(pk=tenant.pk, is_active=True).exists():
        return CLOSE_REFUSED
    with tenant_scope(tenant):
        if not Visitor.objects.filter(pk=visitor_id, tenant=tenant).exists():
            return CLOSE_UNAUTHENTICATED
    return None


def operator_still_allowed(tenant: Tenant, membership_id: int, session_key: str | None) -> int | None:
    """None while an operator socket's handshake would still succeed (logged in, same password, active), else the
    close code."""
    with tenant_scope(tenant):
        membership = (
            Membership.objects.select_related("user", "tenant")
            .filter(pk=membership_id, tenant=tenant, is_active=True)
            .first()
        )
    if membership is None or not membership.user.is_active or not membership.tenant.is_active:
        return CLOSE_REFUSED
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).load() if session_key else {}
    if str(session.get(SESSION_KEY)) != str(membership.user_id) or not constant_time_compare(
        session.get(HASH_SESSION_KEY) or "", membership.user.get_session_auth_hash()
    ):
        return CLOSE_UNAUTHENTICATED
    return None


def VisitorSocketStack(inner):  # noqa: N802  (reads like the Channels stacks it sits beside)
    return VisitorTokenAuthMiddleware(inner)


def OperatorSocketStack(inner):  # noqa: N802
    return AuthMiddlewareStack(OperatorAuthMiddleware(inner))


__all__ = [
    "CLOSE_REFUSED",
    "CLOSE_UNAUTHENTICATED",
    "OperatorSocketStack",
    "VisitorSocketStack",
    "dashboard_origin_allowed",
    "language_from_headers",
    "operator_still_allowed",
    "visitor_still_allowed",
]
