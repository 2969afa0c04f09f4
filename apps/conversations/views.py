"""The operators' upload over HTTP (`/app/api/upload`): thin, it authenticates, parses and calls a service.

The visitor's HTTP endpoints (`/widget/api/`) are in apps/widget/api.py.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.conversations import frames, selectors, services
from apps.conversations.errors import AttachmentTooLarge, BadInput, ConversationError, Forbidden
from apps.conversations.models import Attachment
from apps.core.http import error_response, json_response

# Multipart framing around the file itself.
UPLOAD_OVERHEAD_BYTES = 64 * 1024


def upload_json(attachment: Attachment) -> dict[str, Any]:
    payload = frames.attachment_payload(attachment)
    return {key: payload[key] for key in ("token", "filename", "size", "content_type", "url", "width", "height")}


def upload_too_large(request: HttpRequest) -> bool:
    """Refuse before Django reads the body: the declared length is over the file limit plus framing."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > services.attachment_max_bytes() + UPLOAD_OVERHEAD_BYTES


@require_http_methods(["POST"])
def operator_upload(request: HttpRequest) -> HttpResponse:
    """An operator's file for a conversation of their tenant (session and CSRF token, like the dashboard)."""
    membership = getattr(request, "membership", None)
    if not request.user.is_authenticated or membership is None:
        return error_response(Forbidden(_("Sign in as an operator.")))
    try:
        if upload_too_large(request):
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
    return json_response(upload_json(attachment) | {"conversation": conversation.pk}, status=201)
