"""Operators' email endpoints (session and CSRF token, like the dashboard): thin, they call one service."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.conversations.errors import BadInput, ConversationError, Forbidden, NotFound
from apps.conversations.models import Visitor
from apps.conversations.services import MAX_ATTACHMENTS_PER_MESSAGE
from apps.core.http import error_response
from apps.core.tenancy import tenant_scope
from apps.emailbridge import selectors, services


@require_http_methods(["POST"])
def email_start(request: HttpRequest) -> HttpResponse:
    """Start an email conversation with a visitor (from the visitor card), with attachments."""
    membership = getattr(request, "membership", None)
    if not request.user.is_authenticated or membership is None:
        return error_response(Forbidden(_("Sign in as an operator.")))
    tenant = membership.tenant
    try:
        visitor_id = request.POST.get("visitor", "")
        if not visitor_id.isdigit():
            raise NotFound()
        with tenant_scope(tenant):
            visitor = Visitor.objects.filter(tenant=tenant, pk=int(visitor_id)).first()
        if visitor is None:
            raise NotFound()
        files = request.FILES.getlist("files")
        if len(files) > MAX_ATTACHMENTS_PER_MESSAGE:
            raise BadInput(_("Too many files."), field="files")
        conversation, message = services.email_conversation_start(
            tenant=tenant,
            visitor=visitor,
            by=membership,
            subject=request.POST.get("subject", ""),
            body=request.POST.get("body", ""),
            to=request.POST.get("to", ""),
            files=files,
        )
    except ConversationError as exc:
        return error_response(exc)
    return JsonResponse({"conversation": conversation.pk, "message": message.pk}, status=201)


@require_http_methods(["GET"])
def email_full_text(request: HttpRequest, message_id: int) -> HttpResponse:
    """The whole text of an email message (quoted history and signature included), for the fold."""
    membership = getattr(request, "membership", None)
    if not request.user.is_authenticated or membership is None:
        return error_response(Forbidden(_("Sign in as an operator.")))
    try:
        found = selectors.inbound_email_for_message(tenant=membership.tenant, message_id=message_id)
    except ConversationError as exc:
        return error_response(exc)
    return JsonResponse({"text": found.text, "subject": found.subject, "from": found.from_address})
