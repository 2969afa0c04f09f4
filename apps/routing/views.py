"""Routing's HTTP endpoints: thin, each parses, calls one selector or service, answers.

Visitor (widget iframe, visitor token): `queue/state` (position and ETA after a reload) and
`queue/email` (the address asked for by the retention phrase). Operator (dashboard session):
`routing/state` (own presence with the reason, pending offers, first-response targets).
Another tenant's or another visitor's conversation is `not_found`, like a missing one.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from apps.conversations import selectors as conversation_selectors
from apps.conversations import services as conversation_services
from apps.conversations.errors import BadInput
from apps.core.http import read_json
from apps.dashboard.views import api
from apps.widget.api import authenticate_visitor, widget_endpoint

from . import selectors

SLA_IDS_MAX = 200


def _own_conversation(tenant, visitor, data: dict):
    return conversation_selectors.conversation_for_visitor(
        tenant=tenant, visitor=visitor, conversation_id=data.get("conversation")
    )


@widget_endpoint("POST")
def queue_state(request: HttpRequest) -> JsonResponse:
    tenant, visitor = authenticate_visitor(request)
    conversation = _own_conversation(tenant, visitor, read_json(request))
    return JsonResponse({"queue": selectors.queue_state(tenant=tenant, conversation_id=conversation.pk)})


@widget_endpoint("POST")
def queue_email(request: HttpRequest) -> JsonResponse:
    """The visitor leaves an address so the conversation can go on by email; stored on the visitor."""
    tenant, visitor = authenticate_visitor(request)
    data = read_json(request)
    _own_conversation(tenant, visitor, data)
    email = data.get("email")
    if not isinstance(email, str) or not email.strip():
        raise BadInput(_("Enter a valid email address."), field="email")
    visitor = conversation_services.visitor_update(tenant=tenant, visitor=visitor, email=email)
    return JsonResponse({"visitor": {"id": visitor.pk, "email": visitor.email}})


@require_GET
@api
def operator_state(request: HttpRequest) -> JsonResponse:
    """The signed-in operator's presence and offers, and the first-response targets of the named chats."""
    tenant, membership = request.tenant, request.membership
    ids = [int(part) for part in request.GET.get("ids", "").split(",") if part.isdigit() and len(part) < 19]
    return JsonResponse(
        {
            "presence": selectors.presence_of(tenant=tenant, membership=membership),
            "offers": selectors.pending_offers_for(tenant=tenant, membership=membership),
            "sla": {str(k): v for k, v in selectors.sla_of(tenant=tenant, conversation_ids=ids[:SLA_IDS_MAX]).items()},
        }
    )
