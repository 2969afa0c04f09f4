"""The widget's HTTP endpoints and the operators' upload: thin, they authenticate, parse and call services.

Widget endpoints are called cross-origin from a tenant's site (the loader) or from Parley's
chat iframe. The tenant comes from the public widget key plus an allowed `Origin`
(`/session`), or from the signed visitor token (every other call); never from an id the
client sends. CORS headers name only an allowed origin; no cookies are involved, so the
token-authenticated endpoints are CSRF-exempt. Errors are JSON:
`{"error": {"code": ..., "message": ...}}` with the code of docs/protocol.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.accounts.models import Tenant
from apps.conversations import frames, selectors, services
from apps.conversations.errors import (
    AttachmentTooLarge,
    BadInput,
    ConversationError,
    Forbidden,
    InvalidVisitorToken,
    NotFound,
    RateLimited,
)
from apps.conversations.models import Attachment, Conversation, Visitor
from apps.conversations.tokens import (
    origin_allowed,
    origin_is_parley,
    preflight_allowed,
    visitor_token_issue,
    visitor_token_read,
)
from apps.core.jsonbounds import JSONTooLarge, loads_bounded
from apps.core.ratelimit import client_address, rate_limit_exceeded
from apps.core.tenancy import tenant_scope
from apps.identity import services as identity_services
from apps.widget.selectors import tenant_for_widget_key

JSON_BODY_MAX_BYTES = 16 * 1024
# Multipart framing around the file itself.
UPLOAD_OVERHEAD_BYTES = 64 * 1024
CORS_MAX_AGE = "600"
# Per minute: sessions per widget key and address (a visitor opens one per page view),
# and calls per visitor for each token-authenticated endpoint.
SESSION_RATE_PER_MINUTE = 60
VISITOR_RATE_PER_MINUTE = {"pageview": 60, "messages": 120, "upload": 20, "attachment": 300}


def _json(data: dict[str, Any], status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def error_response(exc: ConversationError) -> JsonResponse:
    return _json({"error": exc.as_dict()}, status=exc.http_status)


def read_json(request: HttpRequest) -> dict[str, Any]:
    # Any content type: sendBeacon() posts text/plain, which also spares the loader a preflight.
    try:
        data = loads_bounded(request.body or b"{}", max_bytes=JSON_BODY_MAX_BYTES)
    except JSONTooLarge:
        raise BadInput(_("The request is too large.")) from None
    except ValueError:
        raise BadInput(_("The request is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise BadInput(_("The request must be a JSON object."))
    return data


def _cors(response: HttpResponse, origin: str | None) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response["Access-Control-Max-Age"] = CORS_MAX_AGE
    return response


def widget_endpoint(*methods: str) -> Callable:
    """Wrap a widget view: CORS preflight, JSON errors, and CORS headers only for an allowed origin.

    The view sets `request.widget_tenant` as soon as it knows the tenant; any response, error
    or not, is then readable only from that tenant's allowed origins or Parley's own (an error
    before the tenant is known, only from Parley's own). The preflight carries neither body nor
    token, so the loader names its widget key in the query (`?key=`): the preflight is granted
    to that tenant's allowed origins, and without a known key to Parley's own origin only.
    """

    def decorator(view: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            origin = request.headers.get("Origin")
            if request.method == "OPTIONS":
                response = HttpResponse(status=204)
                if preflight_allowed(request.GET.get("key"), origin):
                    _cors(response, origin)
                patch_vary_headers(response, ("Origin",))
                return response
            if request.method not in methods:
                response = error_response(BadInput(_("Method not allowed.")))
                response.status_code = 405
                response["Allow"] = ", ".join((*methods, "OPTIONS"))
                return response
            request.widget_tenant = None
            try:
                response = view(request, *args, **kwargs)
            except ConversationError as exc:
                response = error_response(exc)
            tenant = request.widget_tenant
            readable = origin_allowed(tenant, origin) if tenant is not None else origin_is_parley(origin)
            if readable and origin:
                _cors(response, origin)
            patch_vary_headers(response, ("Origin", "Authorization"))
            if not response.has_header("Cache-Control") or response.status_code >= 400:
                # Only a stored file (immutable, behind a random token) may be kept, and only privately.
                add_never_cache_headers(response)
            return response

        return wrapper

    return decorator


def _bearer(request: HttpRequest, *, allow_query: bool = False) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if allow_query:
        # <img src> cannot send a header; the token in the query is the same credential.
        return request.GET.get("token") or None
    return None


def authenticate_visitor(
    request: HttpRequest, *, action: str | None = None, allow_query: bool = False
) -> tuple[Tenant, Visitor]:
    """The tenant and visitor of the request's visitor token; a foreign `Origin` is refused.

    `action` names the per-visitor budget in VISITOR_RATE_PER_MINUTE to charge, if any.
    """
    token = _bearer(request, allow_query=allow_query)
    if token is None:
        raise InvalidVisitorToken()
    tenant_id, visitor_id = visitor_token_read(token)
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        raise InvalidVisitorToken()
    request.widget_tenant = tenant
    with tenant_scope(tenant):
        visitor = Visitor.objects.filter(pk=visitor_id, tenant=tenant).first()
    if visitor is None:
        raise InvalidVisitorToken()
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(tenant, origin):
        raise Forbidden(_("This site may not use this chat."))
    if action is not None and rate_limit_exceeded(
        f"widget:{action}:{tenant.widget_key}:{visitor.pk}", limit=VISITOR_RATE_PER_MINUTE[action], period=60
    ):
        raise RateLimited()
    return tenant, visitor


def _conversation_json(conversation: Conversation | None) -> dict[str, Any] | None:
    if conversation is None:
        return None
    return {"id": conversation.pk, "last_seq": conversation.last_seq, "status": conversation.status}


def _upload_json(attachment: Attachment) -> dict[str, Any]:
    payload = frames.attachment_payload(attachment)
    return {key: payload[key] for key in ("token", "filename", "size", "content_type", "url", "width", "height")}


def _upload_too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > services.attachment_max_bytes() + UPLOAD_OVERHEAD_BYTES


@widget_endpoint("POST")
def widget_session(request: HttpRequest) -> HttpResponse:
    """Open a widget session: a visitor token for the widget key, if the page's origin is allowed."""
    data = read_json(request)
    tenant = tenant_for_widget_key(data.get("key"))
    if tenant is None:
        raise NotFound(_("Unknown widget key."))
    request.widget_tenant = tenant
    if not origin_allowed(tenant, request.headers.get("Origin")):
        raise Forbidden(_("This site may not use this chat."))
    # Keyed by the widget key, not the id: ids restart on a fresh database, the shared cache does not.
    session_key = f"widget:session:{tenant.widget_key}:{client_address(request)}"
    if rate_limit_exceeded(session_key, limit=SESSION_RATE_PER_MINUTE, period=60):
        raise RateLimited()
    visitor = identity_services.visitor_for_session(
        tenant=tenant,
        anonymous_id=data.get("anonymous_id"),
        identity=data.get("identity"),
        name=data.get("name") or "",
        language=data.get("language") or "",
        user_agent=request.headers.get("User-Agent", ""),
        url=data.get("url") or "",
        title=data.get("title") or "",
        referrer=data.get("referrer") or "",
    )
    conversation = selectors.open_conversation_for_visitor(tenant=tenant, visitor=visitor)
    return _json(
        {
            "token": visitor_token_issue(tenant=tenant, visitor=visitor),
            "visitor": {
                "id": visitor.pk,
                "anonymous_id": visitor.anonymous_id,
                "name": visitor.name,
                "email": visitor.email,
                "returning": visitor.is_returning,
                "verified": visitor.verified_at is not None,
            },
            "conversation": _conversation_json(conversation),
            "tenant": {"name": tenant.name, "language": tenant.default_language},
        }
    )


@widget_endpoint("POST")
def widget_pageview(request: HttpRequest) -> HttpResponse:
    tenant, visitor = authenticate_visitor(request, action="pageview")
    data = read_json(request)
    services.page_view_record(
        tenant=tenant,
        visitor=visitor,
        url=data.get("url"),
        title=data.get("title") or "",
        referrer=data.get("referrer") or "",
    )
    return _json({"ok": True})


@widget_endpoint("GET")
def widget_messages(request: HttpRequest) -> HttpResponse:
    """The HTTP fallback of `resume`: public messages after `after` in one of the visitor's conversations."""
    tenant, visitor = authenticate_visitor(request, action="messages")
    conversation = selectors.conversation_for_visitor(
        tenant=tenant, visitor=visitor, conversation_id=request.GET.get("conversation")
    )
    after = request.GET.get("after", "0")
    if not after.isascii() or not after.isdigit() or len(after) > 10:
        raise BadInput(_("after must be a sequence number."), field="after")
    limit = selectors.MESSAGES_MAX
    messages = selectors.messages_after(
        conversation=conversation, after_seq=int(after), include_private=False, limit=limit
    )
    return _json(
        {
            "conversation": frames.conversation_summary(conversation, audience="visitor"),
            "messages": [frames.message_payload(m, audience="visitor") for m in messages],
            "has_more": len(messages) == limit,
        }
    )


@widget_endpoint("POST")
def widget_upload(request: HttpRequest) -> HttpResponse:
    """A visitor's file, for one of their conversations (omitted: the open one, else a new one)."""
    tenant, visitor = authenticate_visitor(request, action="upload")
    if _upload_too_large(request):
        raise AttachmentTooLarge()
    upload = request.FILES.get("file")
    if upload is None:
        raise BadInput(_("Choose a file."), field="file")
    # One transaction: a refused file must not leave a new, empty chat in the operators' queue.
    with transaction.atomic():
        conversation, _started = services.visitor_conversation_for_input(
            tenant=tenant, visitor=visitor, conversation_id=request.POST.get("conversation")
        )
        attachment = services.attachment_upload(
            tenant=tenant, conversation=conversation, file=upload, uploader_side="visitor"
        )
    return _json(_upload_json(attachment) | {"conversation": conversation.pk}, status=201)


@require_http_methods(["POST"])
def operator_upload(request: HttpRequest) -> HttpResponse:
    """An operator's file for a conversation of their tenant (session and CSRF token, like the dashboard)."""
    membership = getattr(request, "membership", None)
    if not request.user.is_authenticated or membership is None:
        return error_response(Forbidden(_("Sign in as an operator.")))
    try:
        if _upload_too_large(request):
            raise AttachmentTooLarge()
        conversation = selectors.conversation_for_operator(
            tenant=membership.tenant, membership=membership, conversation_id=request.POST.get("conversation")
        )
        upload = request.FILES.get("file")
        if upload is None:
            raise BadInput(_("Choose a file."), field="file")
        attachment = services.attachment_upload(
            tenant=membership.tenant, conversation=conversation, file=upload, uploader_side="operator"
        )
    except ConversationError as exc:
        return error_response(exc)
    return _json(_upload_json(attachment) | {"conversation": conversation.pk}, status=201)


def _attachment_for_visitor(request: HttpRequest, token: str) -> Attachment:
    tenant, visitor = authenticate_visitor(request, action="attachment", allow_query=True)
    with tenant_scope(tenant):
        attachment = (
            Attachment.objects.filter(tenant=tenant, token=token, conversation__visitor=visitor)
            .select_related("message")
            .first()
        )
    if attachment is None:
        raise NotFound()
    message = attachment.message
    # An unsent upload is its uploader's alone; a sent one follows its message (a note stays private).
    visible = attachment.uploader_side == "visitor" if message is None else not message.is_private
    if not visible:
        raise NotFound()
    return attachment


def _attachment_for_operator(request: HttpRequest, token: str) -> Attachment:
    membership = getattr(request, "membership", None)
    if not request.user.is_authenticated or membership is None:
        raise InvalidVisitorToken()
    with tenant_scope(membership.tenant):
        attachment = Attachment.objects.filter(tenant=membership.tenant, token=token).first()
    if attachment is None:
        raise NotFound()
    return attachment


@widget_endpoint("GET")
def attachment_download(request: HttpRequest, token: str) -> HttpResponse:
    """Serve a file to the visitor whose conversation it is in, or to an operator of its tenant.

    Never rendered as a page: non-images download, nothing is sniffed, and a sandboxing CSP
    covers the rest.
    """
    if len(token) > 64:
        raise NotFound()
    if _bearer(request, allow_query=True) is not None:
        attachment = _attachment_for_visitor(request, token)
    else:
        attachment = _attachment_for_operator(request, token)
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError):
        raise NotFound() from None
    response = FileResponse(
        handle,
        as_attachment=not attachment.is_image,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, max-age=86400, immutable"
    return response
