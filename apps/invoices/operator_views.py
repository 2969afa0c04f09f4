"""The dashboard's invoice endpoints (under /app/api/invoices/): thin, they parse and call services.

Every id is loaded through the operator's tenant: another tenant's is a 404 like a missing one.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.conversations.selectors import conversation_for_operator
from apps.dashboard import selectors as dashboard_selectors
from apps.dashboard.views import api, read_json
from apps.invoices import selectors, services
from apps.invoices.frames import invoice_payload
from apps.invoices.selectors import invoice_for_operator


def _payload(invoice) -> dict:
    return {"invoice": invoice_payload(invoice)}


@require_http_methods(["GET", "POST"])
@api
def invoices(request: HttpRequest) -> JsonResponse:
    """GET ?visitor=<id>: the visitor's issued invoices. POST: a draft for a conversation."""
    if request.method == "GET":
        visitor = dashboard_selectors.visitor_get(tenant=request.tenant, visitor_id=request.GET.get("visitor"))
        found = selectors.invoices_for_visitor(tenant=request.tenant, visitor=visitor)
        return JsonResponse({"invoices": [invoice_payload(invoice) for invoice in found]})
    data = read_json(request)
    conversation = conversation_for_operator(
        tenant=request.tenant, membership=request.membership, conversation_id=data.get("conversation")
    )
    invoice = services.invoice_create(
        tenant=request.tenant,
        conversation=conversation,
        created_by=request.membership,
        lines=data.get("lines"),
        currency=data.get("currency") or None,
        due_date=data.get("due_date") or None,
        provider=data.get("provider") or None,
        buyer_name=data.get("buyer_name"),
    )
    return JsonResponse(_payload(invoice), status=201)


@require_GET
@api
def options(request: HttpRequest) -> JsonResponse:
    return JsonResponse(selectors.invoice_options(tenant=request.tenant))


@require_POST
@api
def send(request: HttpRequest, invoice_id: int) -> JsonResponse:
    invoice = invoice_for_operator(tenant=request.tenant, invoice_id=invoice_id)
    return JsonResponse(_payload(services.invoice_send(tenant=request.tenant, invoice=invoice, by=request.membership)))


@require_POST
@api
def cancel(request: HttpRequest, invoice_id: int) -> JsonResponse:
    invoice = invoice_for_operator(tenant=request.tenant, invoice_id=invoice_id)
    return JsonResponse(
        _payload(services.invoice_cancel(tenant=request.tenant, invoice=invoice, by=request.membership))
    )
