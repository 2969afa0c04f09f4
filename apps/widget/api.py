"""All of `/widget/api/`: what the visitor's browser calls over HTTP (the loader on the tenant's
site, and Parley's chat iframe). Thin: authenticate, parse, call one service or selector, answer.

The tenant comes from the public widget key plus an allowed `Origin` (`/session`, `/contact`),
or from the signed visitor token (every other call) through
`apps.conversations.tokens.visitor_authenticate`, the same check the widget's socket makes
(the Origin rule is stated there); never from an id the client sends. CORS headers name only
an allowed origin; no cookies are involved, so the endpoints are CSRF-exempt. Bodies are read
by `apps.core.http.read_json`; every error is `{"error": {"code", "message", "field"}}`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from apps.accounts.models import Tenant
from apps.conversations import frames, selectors, services
from apps.conversations.errors import (
    AttachmentTooLarge,
    BadInput,
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
    visitor_authenticate,
    visitor_token_issue,
)
from apps.conversations.views import upload_json, upload_too_large
from apps.core.http import ApiError, error_response, json_response, read_json
from apps.core.ratelimit import client_address, rate_limit_exceeded
from apps.core.tenancy import tenant_scope
from apps.identity import services as identity_services
from apps.widget import selectors as widget_selectors
from apps.widget import services as widget_services
from apps.widget import tasks
from apps.widget.forms import ContactForm, TranscriptForm

CORS_MAX_AGE = "600"
# Per minute: sessions per widget key and address (a visitor opens one per page view),
# and calls per visitor for each token-authenticated endpoint.
SESSION_RATE_PER_MINUTE = 60
VISITOR_RATE_PER_MINUTE = {"pageview": 60, "messages": 120, "send": 120, "upload": 20, "attachment": 300}
CONTACTS_PER_HOUR = 10
TRANSCRIPTS_PER_CONVERSATION = 3


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
            except ApiError as exc:
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
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if allow_query:
        # <img src> cannot send a header; the token in the query is the same credential.
        return request.GET.get("token") or None
    return None


def authenticate_visitor(
    request: HttpRequest, *, action: str | None = None, allow_query: bool = False
) -> tuple[Tenant, Visitor]:
    """The tenant and visitor of the request's visitor token (`visitor_authenticate`: the socket's check).

    `action` names the per-visitor budget in VISITOR_RATE_PER_MINUTE to charge, if any.
    """
    token = _bearer(request, allow_query=allow_query)
    if token is None:
        raise InvalidVisitorToken()
    tenant, visitor = visitor_authenticate(
        token=token, origin=request.headers.get("Origin"), origin_required=request.method != "GET"
    )
    request.widget_tenant = tenant
    if action is not None and rate_limit_exceeded(
        f"widget:{action}:{tenant.widget_key}:{visitor.pk}", limit=VISITOR_RATE_PER_MINUTE[action], period=60
    ):
        raise RateLimited()
    return tenant, visitor


def _conversation_json(conversation: Conversation | None) -> dict[str, Any] | None:
    if conversation is None:
        return None
    return {"id": conversation.pk, "last_seq": conversation.last_seq, "status": conversation.status}


@widget_endpoint("POST")
def session(request: HttpRequest) -> HttpResponse:
    """Open a widget session: a visitor token for the widget key, if the page's origin is allowed."""
    data = read_json(request)
    tenant = widget_selectors.tenant_for_widget_key(data.get("key"))
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
    return json_response(
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
def pageview(request: HttpRequest) -> HttpResponse:
    tenant, visitor = authenticate_visitor(request, action="pageview")
    data = read_json(request)
    services.page_view_record(
        tenant=tenant,
        visitor=visitor,
        url=data.get("url"),
        title=data.get("title") or "",
        referrer=data.get("referrer") or "",
    )
    return json_response({"ok": True})


@widget_endpoint("GET", "POST")
def messages(request: HttpRequest) -> HttpResponse:
    """GET: the HTTP fallback of `resume` (public messages after `after` in one of the visitor's conversations).
    POST: the HTTP fallback of `send`, through the one way in (`visitor_message_receive`); answers the `ack`."""
    if request.method == "POST":
        return _message_send(request)
    tenant, visitor = authenticate_visitor(request, action="messages")
    conversation = selectors.conversation_for_visitor(
        tenant=tenant, visitor=visitor, conversation_id=request.GET.get("conversation")
    )
    after = request.GET.get("after", "0")
    if not after.isascii() or not after.isdigit() or len(after) > 10:
        raise BadInput(_("after must be a sequence number."), field="after")
    limit = selectors.MESSAGES_MAX
    page = selectors.messages_after(conversation=conversation, after_seq=int(after), include_private=False, limit=limit)
    return json_response(
        {
            "conversation": frames.conversation_summary(conversation, audience="visitor"),
            "messages": [frames.message_payload(m, audience="visitor") for m in page],
            "has_more": len(page) == limit,
        }
    )


def _message_send(request: HttpRequest) -> HttpResponse:
    tenant, visitor = authenticate_visitor(request, action="send")
    data = read_json(request)
    received = services.visitor_message_receive(
        tenant=tenant,
        visitor=visitor,
        client_id=data.get("client_id"),
        body=data.get("body"),
        attachment_tokens=data.get("attachments") or None,
        conversation_id=data.get("conversation"),
    )
    return json_response(
        frames.ack_frame(received.message, audience="visitor"), status=201 if received.created else 200
    )


@widget_endpoint("POST")
def upload(request: HttpRequest) -> HttpResponse:
    """A visitor's file, for one of their conversations (omitted: the open one, else a new one)."""
    tenant, visitor = authenticate_visitor(request, action="upload")
    if upload_too_large(request):
        raise AttachmentTooLarge()
    file = request.FILES.get("file")
    if file is None:
        raise BadInput(_("Choose a file."), field="file")
    # One transaction: a refused file must not leave a new, empty chat in the operators' queue.
    with transaction.atomic():
        conversation, _started = services.visitor_conversation_for_input(
            tenant=tenant, visitor=visitor, conversation_id=request.POST.get("conversation")
        )
        attachment = services.attachment_upload(
            tenant=tenant, conversation=conversation, file=file, uploader_side="visitor"
        )
    return json_response(upload_json(attachment) | {"conversation": conversation.pk}, status=201)


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


@widget_endpoint("POST")
def visitor_profile(request: HttpRequest) -> HttpResponse:
    """The pre-chat form: the visitor's name (required when asked), email and phone (optional)."""
    tenant, visitor = authenticate_visitor(request)
    data = read_json(request)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadInput(_("Please enter your name."), field="name")
    visitor = services.visitor_update(
        tenant=tenant,
        visitor=visitor,
        name=name,
        email=data.get("email") or None,
        phone=data.get("phone") or None,
    )
    return json_response({"visitor": {"id": visitor.pk, "name": visitor.name, "email": visitor.email}})


@widget_endpoint("POST")
def contact(request: HttpRequest) -> HttpResponse:
    """The offline contact form: creates a conversation with the visitor's message."""
    data = read_json(request)
    tenant = widget_selectors.tenant_for_widget_key(data.get("key"))
    visitor = None
    if request.headers.get("Authorization"):
        tenant, visitor = authenticate_visitor(request)
    if tenant is None:
        raise NotFound()
    request.widget_tenant = tenant
    if not origin_allowed(tenant, request.headers.get("Origin")):
        raise Forbidden(_("The chat is not available on this site."))
    if rate_limit_exceeded(
        f"widget:contact:{tenant.widget_key}:{client_address(request)}", limit=CONTACTS_PER_HOUR, period=3600
    ):
        raise RateLimited(_("Too many messages. Please try again later."))
    form = ContactForm(data)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise BadInput(errors[0], field=field)
    anonymous_id = data.get("anonymous_id") if isinstance(data.get("anonymous_id"), str) else None
    url = data.get("url") if isinstance(data.get("url"), str) else ""
    conversation = widget_services.contact_message_submit(
        tenant=tenant,
        visitor=visitor,
        anonymous_id=anonymous_id,
        name=form.cleaned_data["name"],
        email=form.cleaned_data["email"],
        body=form.cleaned_data["message"],
        url=url[:2000],
        language=translation.get_language() or "",
    )
    return json_response({"conversation": {"id": conversation.pk, "status": conversation.status}}, status=201)


def _own_conversation(tenant: Tenant, visitor: Visitor, data: dict) -> Conversation:
    return selectors.conversation_for_visitor(tenant=tenant, visitor=visitor, conversation_id=data.get("conversation"))


@widget_endpoint("POST")
def rating(request: HttpRequest) -> HttpResponse:
    tenant, visitor = authenticate_visitor(request)
    data = read_json(request)
    comment = data.get("comment") if isinstance(data.get("comment"), str) else ""
    conversation = services.visitor_conversation_rate(
        tenant=tenant,
        visitor=visitor,
        conversation_id=data.get("conversation"),
        rating=data.get("rating"),
        comment=comment,
    )
    return json_response({"conversation": {"id": conversation.pk, "rating": conversation.rating}})


@widget_endpoint("POST")
def end_chat(request: HttpRequest) -> HttpResponse:
    """The visitor ends the chat (the operator sees it closed)."""
    tenant, visitor = authenticate_visitor(request)
    conversation = _own_conversation(tenant, visitor, read_json(request))
    conversation = services.conversation_close(tenant=tenant, conversation=conversation)
    return json_response({"conversation": {"id": conversation.pk, "status": conversation.status}})


@widget_endpoint("POST")
def transcript(request: HttpRequest) -> HttpResponse:
    """Email the transcript to the visitor (through Celery), at most a few times per conversation."""
    tenant, visitor = authenticate_visitor(request)
    data = read_json(request)
    conversation = _own_conversation(tenant, visitor, data)
    form = TranscriptForm(data)
    if not form.is_valid():
        raise BadInput(form.errors["email"][0], field="email")
    # created_at in the key: ids restart on a fresh database, conversations do not share a birth time.
    counter = f"widget:transcripts:{conversation.pk}:{conversation.created_at.timestamp():.6f}"
    if rate_limit_exceeded(counter, limit=TRANSCRIPTS_PER_CONVERSATION, period=24 * 3600):
        raise Forbidden(_("The transcript was already sent several times."))
    language = translation.get_language() or ""
    tasks.transcript_send.delay(tenant.pk, conversation.pk, form.cleaned_data["email"], language)  # on commit
    return json_response({"queued": True}, status=202)
