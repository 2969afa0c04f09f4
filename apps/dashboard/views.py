"""The operator dashboard: one page and the JSON endpoints it reads and writes.

Thin: parse, call a selector or a service, answer. The tenant comes from the
operator's membership (TenantScopeMiddleware); every id in a URL is loaded through
that tenant's scope, so another tenant's id is a 404 exactly like a missing one.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.conversations import services as conversation_services
from apps.core.http import ApiError, error_body, error_response, json_response, read_json

from . import selectors, services
from .catalogue import js_catalogue


def member_required(view):
    """A logged-in user with an active membership; pages redirect to login, the API answers 401/403 JSON."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        is_api = request.path.startswith("/app/api/")
        if not request.user.is_authenticated:
            if is_api:
                return json_response(error_body("not_authenticated", _("Sign in first.")), status=401)
            return redirect_to_login(request.get_full_path())
        if request.membership is None:
            if is_api:
                return error_response(PermissionDenied())
            return render(request, "accounts/no_membership.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def api(view):
    """JSON endpoints: every refusal is the one error shape of apps/core/http.py
    (validation 400 `bad_request` naming the field, permission 403, domain errors with their code;
    NotFound covers "missing" and "another tenant's" alike: the same 404)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except (ValidationError, PermissionDenied, ApiError) as exc:
            return error_response(exc)

    return member_required(wrapper)


def int_param(request: HttpRequest, name: str, default: int, lo: int, hi: int) -> int:
    try:
        value = int(request.GET.get(name, default))
    except (TypeError, ValueError) as exc:
        raise ValidationError({name: [_("Enter a whole number.")]}) from exc
    return max(lo, min(hi, value))


@require_GET
@member_required
def app(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    bootstrap = {
        "me": {
            "id": membership.pk,
            "user": request.user.pk,
            "name": membership.name_for_team,
            "email": request.user.email,
            "status": selectors.operator_status_of(tenant=request.tenant, membership=membership),
            "is_admin": membership.is_admin,
        },
        "tenant": {"id": request.tenant.pk, "name": request.tenant.name},
        "socket": "/ws/app/",
        "upload_url": reverse("conversations_app:operator_upload"),
        "language": request.LANGUAGE_CODE,
    }
    return render(
        request,
        "dashboard/app.html",
        {"bootstrap": bootstrap, "catalogue": js_catalogue(), "languages": settings.LANGUAGES},
    )


@require_GET
@api
def conversations(request: HttpRequest) -> JsonResponse:
    box = request.GET.get("box", "queued")
    if box not in selectors.BOXES:
        raise ValidationError({"box": [_("Unknown list.")]})
    limit = int_param(request, "limit", 50, 1, 200)
    before = None
    if request.GET.get("before"):
        try:
            before = parse_datetime(request.GET["before"])
        except ValueError:
            before = None
        if before is None:
            raise ValidationError({"before": [_("Enter a valid date and time.")]})
    payload = selectors.conversation_list(
        tenant=request.tenant, membership=request.membership, box=box, limit=limit, before=before
    )
    return JsonResponse(payload)


@require_GET
@api
def conversation(request: HttpRequest, conversation_id: int) -> JsonResponse:
    return JsonResponse(
        selectors.conversation_detail(
            tenant=request.tenant, membership=request.membership, conversation_id=conversation_id
        )
    )


@require_GET
@api
def conversation_messages(request: HttpRequest, conversation_id: int) -> JsonResponse:
    # ?after=<seq>: resync, oldest first; otherwise the newest page, or the one above ?before=<seq>.
    after = int_param(request, "after", 0, 0, 2**31) if "after" in request.GET else None
    before = int_param(request, "before", 0, 1, 2**31) if "before" in request.GET else None
    limit = int_param(request, "limit", selectors.MESSAGES_PAGE, 1, 500 if after is not None else 200)
    return JsonResponse(
        selectors.conversation_messages(
            tenant=request.tenant,
            membership=request.membership,
            conversation_id=conversation_id,
            after=after,
            before=before,
            limit=limit,
        )
    )


@require_POST
@api
def conversation_invite(request: HttpRequest, conversation_id: int) -> JsonResponse:
    data = read_json(request)
    conversation = selectors.conversation_get(
        tenant=request.tenant, membership=request.membership, conversation_id=conversation_id
    )
    colleague = selectors.membership_get(tenant=request.tenant, membership_id=data.get("operator"))
    services.conversation_invite_colleague(
        tenant=request.tenant, conversation=conversation, by=request.membership, colleague=colleague
    )
    return JsonResponse({"ok": True})


@require_GET
@api
def visitors_online(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"visitors": selectors.visitors_online(tenant=request.tenant)})


@require_http_methods(["GET", "POST"])
@api
def visitor(request: HttpRequest, visitor_id: int) -> JsonResponse:
    if request.method == "POST":
        data = read_json(request)
        target = selectors.visitor_get(tenant=request.tenant, visitor_id=visitor_id)
        fields = {k: str(data[k]).strip() for k in ("name", "email", "phone") if k in data and data[k] is not None}
        conversation_services.visitor_update(tenant=request.tenant, visitor=target, **fields)
    return JsonResponse(selectors.visitor_card(tenant=request.tenant, visitor_id=visitor_id))


@require_POST
@api
def visitor_notes(request: HttpRequest, visitor_id: int) -> JsonResponse:
    data = read_json(request)
    target = selectors.visitor_get(tenant=request.tenant, visitor_id=visitor_id)
    note = conversation_services.visitor_note_add(
        tenant=request.tenant, visitor=target, author=request.membership, body=str(data.get("body", ""))
    )
    return JsonResponse({"note": selectors.note_payload(note)}, status=201)


@require_POST
@api
def visitor_invite(request: HttpRequest, visitor_id: int) -> JsonResponse:
    data = read_json(request)
    target = selectors.visitor_get(tenant=request.tenant, visitor_id=visitor_id)
    conversation = services.visitor_invite(
        tenant=request.tenant,
        visitor=target,
        operator=request.membership,
        body=str(data.get("body", "")),
        client_id=str(data.get("client_id", "")),
    )
    summary = selectors.conversation_detail(
        tenant=request.tenant, membership=request.membership, conversation_id=conversation.pk
    )
    return JsonResponse(summary, status=201)


@require_GET
@api
def team(request: HttpRequest) -> JsonResponse:
    return JsonResponse(selectors.team(tenant=request.tenant))


@require_POST
@api
def status(request: HttpRequest) -> JsonResponse:
    data = read_json(request)
    row = services.operator_status_set(
        tenant=request.tenant, membership=request.membership, status=str(data.get("status", ""))
    )
    return JsonResponse({"status": row.status})
