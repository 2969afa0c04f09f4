"""Files in conversations: checked, typed by their content (`sniffing`), stored, sent later with a message."""

from __future__ import annotations

import secrets
import unicodedata
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Tenant
from apps.conversations.errors import AttachmentTooLarge, BadInput, ConversationClosed, NotFound
from apps.conversations.models import Attachment, Conversation
from apps.conversations.services.guards import in_tenant_scope, own
from apps.conversations.services.sniffing import sniff
from apps.conversations.services.types import Side


def attachment_max_bytes() -> int:
    return int(getattr(settings, "PARLEY_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


def _safe_filename(name: Any) -> str:
    name = str(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if not name:
        name = gettext("file")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:200]
    return name


@in_tenant_scope
def attachment_upload(
    *,
    tenant: Tenant,
    conversation: Conversation,
    file: UploadedFile,
    uploader_side: Side,
) -> Attachment:
    """Check and store an uploaded file; it is sent later with `message_send(attachment_tokens=[token])`."""
    own(tenant, conversation)
    if uploader_side not in ("visitor", "operator"):
        raise BadInput(_("Unknown uploader."), field="uploader_side")
    if file is None:
        raise BadInput(_("Choose a file."), field="file")
    size = file.size or 0
    if size > attachment_max_bytes():
        raise AttachmentTooLarge(
            _("The file is too large (at most %(mb)s MB).") % {"mb": attachment_max_bytes() // (1024 * 1024)}
        )
    if size == 0:
        raise BadInput(_("The file is empty."), field="file")
    filename = _safe_filename(file.name)
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    file.seek(0)
    head = file.read(16)
    content_type, width, height = sniff(head, extension, file)
    file.seek(0)
    with transaction.atomic():
        locked = Conversation.objects.filter(pk=conversation.pk, tenant=tenant).only("status").first()
        if locked is None:
            raise NotFound()
        if locked.is_closed and uploader_side == "visitor":
            raise ConversationClosed()
        attachment = Attachment(
            tenant=tenant,
            conversation_id=conversation.pk,
            token=secrets.token_urlsafe(24),
            filename=filename,
            content_type=content_type,
            size=size,
            width=width,
            height=height,
            uploader_side=uploader_side,
        )
        attachment.file.save(attachment.token, file, save=False)
        try:
            attachment.save(force_insert=True)
        except Exception:
            attachment.file.delete(save=False)
            raise
    return attachment
