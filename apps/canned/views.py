"""The dashboard's JSON endpoints for canned replies (/app/api/canned/...).

Thin: parse, call a selector or a service, answer in the dashboard API's error shape
(`apps.dashboard.views.api`). Search, browse and fill work on every reply the operator
can see; create, change and delete only on their personal ones (shared replies are the
admins', in the Django admin). Another tenant's, another department's or another
operator's personal reply is a 404 `not_found`, like a missing one.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.dashboard import selectors as dashboard_selectors
from apps.dashboard.views import api, int_param, read_json

from . import selectors, services
from .models import Scope

LANGUAGE_CODES = frozenset(code for code, _name in settings.LANGUAGES)


def _language(request: HttpRequest) -> str | None:
    """`?lang=`: omitted or empty means every language; anything but a language Parley speaks is a 400."""
    language = request.GET.get("lang") or None
    if language is not None and language not in LANGUAGE_CODES:
        raise ValidationError({"lang": [_("Choose one of the offered languages.")]})
    return language


def _reply_fields(data: dict) -> dict:
    return {name: data[name] for name in services.EDITABLE_FIELDS if name in data and data[name] is not None}


@require_http_methods(["GET", "POST"])
@api
def replies(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        data = read_json(request)
        fields = _reply_fields(data)
        reply = services.canned_reply_create(
            tenant=request.tenant,
            scope=Scope.PERSONAL,
            owner=request.membership,
            title=fields.get("title", ""),
            shortcut=fields.get("shortcut", ""),
            text=fields.get("text", ""),
            language=fields.get("language", ""),
            tags=fields.get("tags", ""),
        )
        return JsonResponse({"reply": selectors.reply_payload(reply, membership=request.membership)}, status=201)
    found = selectors.canned_search(
        tenant=request.tenant,
        membership=request.membership,
        query=request.GET.get("q", ""),
        limit=int_param(request, "limit", 10, 1, selectors.LIMIT_MAX),
        language=_language(request),
    )
    return JsonResponse({"replies": found})


@require_GET
@api
def browse(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        selectors.canned_browse(
            tenant=request.tenant,
            membership=request.membership,
            offset=int_param(request, "offset", 0, 0, 10**6),
            limit=int_param(request, "limit", 50, 1, 200),
            language=_language(request),
        )
    )


@require_http_methods(["GET", "PATCH", "DELETE"])
@api
def reply(request: HttpRequest, reply_id: int) -> JsonResponse:
    if request.method == "GET":
        found = selectors.canned_reply_get(tenant=request.tenant, membership=request.membership, reply_id=reply_id)
        return JsonResponse({"reply": selectors.reply_payload(found, membership=request.membership)})
    own = selectors.canned_reply_get_own(tenant=request.tenant, membership=request.membership, reply_id=reply_id)
    if request.method == "DELETE":
        services.canned_reply_delete(tenant=request.tenant, reply=own)
        return JsonResponse({"ok": True})
    data = read_json(request)
    changed = services.canned_reply_update(tenant=request.tenant, reply=own, **_reply_fields(data))
    return JsonResponse({"reply": selectors.reply_payload(changed, membership=request.membership)})


@require_POST
@api
def fill(request: HttpRequest, reply_id: int) -> JsonResponse:
    """The reply's text filled for a conversation (and its files staged there), counted as one use."""
    data = read_json(request)
    found = selectors.canned_reply_get(tenant=request.tenant, membership=request.membership, reply_id=reply_id)
    conversation = None
    if data.get("conversation") is not None:
        conversation = dashboard_selectors.conversation_get(
            tenant=request.tenant, membership=request.membership, conversation_id=data["conversation"]
        )
    filled = services.canned_reply_fill(
        tenant=request.tenant, reply=found, membership=request.membership, conversation=conversation
    )
    return JsonResponse(filled)


@require_http_methods(["GET", "POST"])
@api
def hotkeys(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        data = read_json(request)
        slot = data.get("slot")
        if isinstance(slot, bool) or not isinstance(slot, int):
            slot = -1
        target = None
        if data.get("reply") is not None:
            target = selectors.canned_reply_get(
                tenant=request.tenant, membership=request.membership, reply_id=data["reply"]
            )
        services.canned_hotkey_set(
            tenant=request.tenant,
            membership=request.membership,
            slot=slot,
            reply=target,
            sends=data.get("sends", True) is not False,
        )
    return JsonResponse({"hotkeys": selectors.canned_hotkeys(tenant=request.tenant, membership=request.membership)})
