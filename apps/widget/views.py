"""The widget's public HTTP endpoints: loader script, config, chat iframe, and the
visitor's few calls that the conversation API does not cover (contact form, rating,
transcript). Thin: they parse, authorize and call selectors or services."""

from __future__ import annotations

import functools
import gzip
import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import Tenant
from apps.conversations import selectors as conversation_selectors
from apps.conversations import services as conversation_services
from apps.conversations.errors import BadInput, ConversationError, Forbidden, NotFound, RateLimited
from apps.conversations.models import Visitor
from apps.conversations.tokens import origin_allowed
from apps.conversations.views import authenticate_visitor, error_response, read_json
from apps.core.ratelimit import client_address, rate_limit_exceeded
from apps.widget import selectors, services, tasks
from apps.widget.catalogue import loader_strings, widget_strings
from apps.widget.forms import ContactForm, TranscriptForm

LOADER_MAX_AGE = 300  # the loader URL is unversioned: keep it short so fixes reach sites soon


# Whole-line comments and indentation: the loader's source stays readable, host pages get it lean.
_LOADER_TRIM = (
    re.compile(r"^[ \t]*/\*.*?\*/[ \t]*\n", re.MULTILINE | re.DOTALL),
    re.compile(r"^[ \t]*//[^\n]*\n", re.MULTILINE),
    re.compile(r"^[ \t]+", re.MULTILINE),
)


@lru_cache(maxsize=4)
def _loader_bytes(mtime: float, path: str) -> tuple[bytes, bytes]:
    source = Path(path).read_text(encoding="utf-8")
    for pattern in _LOADER_TRIM:
        source = pattern.sub("", source)
    raw = source.encode("utf-8")
    return raw, gzip.compress(raw, compresslevel=9, mtime=0)


@require_GET
def loader_js(request: HttpRequest) -> HttpResponse:
    path = finders.find("widget/loader.js")
    if not path:
        raise Http404
    raw, packed = _loader_bytes(Path(path).stat().st_mtime, path)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(packed, content_type="text/javascript; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(raw, content_type="text/javascript; charset=utf-8")
    response["Vary"] = "Accept-Encoding"
    response["Cache-Control"] = f"public, max-age={LOADER_MAX_AGE}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
@cache_control(public=True, max_age=60)
def config_json(request: HttpRequest, key: str) -> JsonResponse:
    tenant = selectors.tenant_for_widget_key(key)
    if tenant is None:
        raise Http404
    config = selectors.widget_config(tenant=tenant)
    config["lang"] = selectors.frame_language(
        widget_language=config["language"], requested=request.GET.get("lang"), default=tenant.default_language
    )
    with translation.override(config["lang"]):
        config["strings"] = loader_strings()
    response = JsonResponse(config)
    # Public and the same for every visitor: any site may read it, caches may share it.
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
@xframe_options_exempt
def frame(request: HttpRequest, key: str) -> HttpResponse:
    tenant = selectors.tenant_for_widget_key(key)
    if tenant is None:
        raise Http404
    config = selectors.widget_config(tenant=tenant)
    language = selectors.frame_language(
        widget_language=config["language"], requested=request.GET.get("lang"), default=tenant.default_language
    )
    with translation.override(language):
        context = {
            "tenant": tenant,
            "config": config,
            "language": language,
            "boot": {
                "config": config,
                "strings": widget_strings(),
                "language": language,
                "api": "/widget/api/",
                "socket": "/ws/widget/",
            },
        }
        response = render(request, "widget/frame.html", context)
    response["Content-Language"] = language
    # The same for every visitor of a site (key, language and host are in the URL).
    response["Cache-Control"] = "public, max-age=60"
    response["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response["Content-Security-Policy"] = "; ".join(
        [
            selectors.frame_ancestors(tenant=tenant),
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob: https:" + (" http:" if settings.DEBUG else ""),
            "media-src 'self' data:",
            f"connect-src 'self' ws://{request.get_host()} wss://{request.get_host()}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )
    return response


LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


@require_GET
def logo(request: HttpRequest, key: str) -> HttpResponse:
    """The tenant's uploaded logo (an image Pillow accepted on upload; never SVG or HTML)."""
    tenant = selectors.tenant_for_widget_key(key)
    if tenant is None:
        raise Http404
    widget = selectors.widget_settings_for(tenant=tenant)
    content_type = LOGO_TYPES.get(Path(widget.logo.name or "").suffix.lower())
    if not widget.logo or content_type is None:
        raise Http404
    try:
        handle = widget.logo.open("rb")
    except OSError:
        raise Http404 from None
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_GET
def preview(request: HttpRequest, key: str) -> HttpResponse:
    """A plain page on Parley's own origin carrying only the snippet: try the widget before
    putting it on a site (Parley's origin is always allowed)."""
    tenant = selectors.tenant_for_widget_key(key)
    if tenant is None:
        raise Http404
    response = render(request, "widget/preview.html", {"tenant": tenant, "base_url": settings.PARLEY_BASE_URL})
    response["Cache-Control"] = "private, no-cache"
    return response


# --- the visitor's calls from the iframe (same origin; authenticated by the visitor token) ---


def widget_api(view):
    """JSON in, JSON out, POST only; domain errors become their JSON answer."""

    @csrf_exempt  # no cookies: the visitor token in the Authorization header authenticates
    @require_POST
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except ConversationError as exc:
            return error_response(exc)

    return wrapper


@widget_api
def visitor_profile(request: HttpRequest) -> JsonResponse:
    """The pre-chat form: the visitor's name (required when asked), email and phone (optional)."""
    tenant, visitor = authenticate_visitor(request)
    data = read_json(request)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadInput(_("Please enter your name."), field="name")
    visitor = conversation_services.visitor_update(
        tenant=tenant,
        visitor=visitor,
        name=name,
        email=data.get("email") or None,
        phone=data.get("phone") or None,
    )
    return JsonResponse({"visitor": {"id": visitor.pk, "name": visitor.name, "email": visitor.email}})


@widget_api
def contact(request: HttpRequest) -> JsonResponse:
    """The offline contact form: creates a conversation with the visitor's message."""
    data = read_json(request)
    tenant = selectors.tenant_for_widget_key(data.get("key") if isinstance(data.get("key"), str) else "")
    visitor = None
    if request.headers.get("Authorization"):
        tenant, visitor = authenticate_visitor(request)
    if tenant is None:
        raise NotFound()
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
    conversation = services.contact_message_submit(
        tenant=tenant,
        visitor=visitor,
        anonymous_id=anonymous_id,
        name=form.cleaned_data["name"],
        email=form.cleaned_data["email"],
        body=form.cleaned_data["message"],
        url=url[:2000],
        language=translation.get_language() or "",
    )
    return JsonResponse({"conversation": {"id": conversation.pk, "status": conversation.status}}, status=201)


CONTACTS_PER_HOUR = 10


def _own_conversation(tenant: Tenant, visitor: Visitor, data: dict):
    return conversation_selectors.conversation_for_visitor(
        tenant=tenant, visitor=visitor, conversation_id=data.get("conversation")
    )


@widget_api
def rating(request: HttpRequest) -> JsonResponse:
    tenant, visitor = authenticate_visitor(request)
    data = read_json(request)
    conversation = _own_conversation(tenant, visitor, data)
    comment = data.get("comment") if isinstance(data.get("comment"), str) else ""
    conversation = conversation_services.conversation_rate(
        tenant=tenant, conversation=conversation, rating=data.get("rating"), comment=comment
    )
    return JsonResponse({"conversation": {"id": conversation.pk, "rating": conversation.rating}})


@widget_api
def end_chat(request: HttpRequest) -> JsonResponse:
    """The visitor ends the chat (the operator sees it closed)."""
    tenant, visitor = authenticate_visitor(request)
    conversation = _own_conversation(tenant, visitor, read_json(request))
    conversation = conversation_services.conversation_close(tenant=tenant, conversation=conversation)
    return JsonResponse({"conversation": {"id": conversation.pk, "status": conversation.status}})


TRANSCRIPTS_PER_CONVERSATION = 3


@widget_api
def transcript(request: HttpRequest) -> JsonResponse:
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
    email = form.cleaned_data["email"]
    language = translation.get_language() or ""
    tasks.transcript_send.delay(tenant.pk, conversation.pk, email, language)  # on commit (TransactionAwareTask)
    return JsonResponse({"queued": True}, status=202)
