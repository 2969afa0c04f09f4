"""HTTP of the messengers app: Telegram's webhook, the widget's deep link, the operator card's section.

Thin: they authenticate, parse and call one service or selector.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.conversations import selectors as conversation_selectors
from apps.conversations.errors import BadInput, NotFound
from apps.core.http import read_json
from apps.core.jsonbounds import JSONTooLarge, loads_bounded
from apps.dashboard import selectors as dashboard_selectors
from apps.dashboard.views import api
from apps.messengers import selectors, services
from apps.messengers.services.inbound import UPDATE_MAX_BYTES
from apps.widget.api import authenticate_visitor, widget_endpoint

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@csrf_exempt
@require_POST
def telegram_webhook(request: HttpRequest, webhook_id: str) -> HttpResponse:
    """Telegram posts each update here. Unknown webhook or wrong secret: 404, nothing stored."""
    try:
        bot = services.bot_for_webhook(webhook_id, request.headers.get(SECRET_HEADER))
    except NotFound:
        return HttpResponse(status=404)
    try:
        payload = loads_bounded(request.body or b"", max_bytes=UPDATE_MAX_BYTES)
        services.telegram_update_receive(bot=bot, payload=payload)
    except (JSONTooLarge, ValueError, BadInput):
        return HttpResponse("bad update", status=400, content_type="text/plain")
    # 200 for a duplicate as well: Telegram stops delivering it.
    return HttpResponse("ok", content_type="text/plain")


@widget_endpoint("POST")
def widget_telegram_link(request: HttpRequest) -> HttpResponse:
    """A fresh deep link for the visitor: `{"url": "https://t.me/<bot>?start=<token>"}`."""
    tenant, visitor = authenticate_visitor(request)
    data = read_json(request)
    conversation = None
    if data.get("conversation") is not None:
        conversation = conversation_selectors.conversation_for_visitor(
            tenant=tenant, visitor=visitor, conversation_id=data.get("conversation")
        )
    url = services.telegram_link_create(tenant=tenant, visitor=visitor, conversation=conversation)
    return JsonResponse({"url": url})


@require_GET
@api
def visitor_channels(request: HttpRequest, visitor_id: int) -> JsonResponse:
    tenant = request.tenant
    visitor = dashboard_selectors.visitor_get(tenant=tenant, visitor_id=visitor_id)
    return JsonResponse(selectors.visitor_channels(tenant=tenant, visitor=visitor))
