"""The one call from a messenger into the conversation services for a visitor's message.

Messages go through the shared inbound service (`apps.conversations.services.visitor_message_receive`:
the visitor's open conversation or a new one on this channel, idempotent on `client_id`). Files
from the messenger are first stored as the visitor's uploads in that conversation, through the
same checks as the widget's (type sniffed from the bytes, size limit), then sent with the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from apps.accounts.models import Tenant
from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation, Message, Visitor


@dataclass(frozen=True)
class IncomingFile:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


def visitor_message_receive(
    *,
    tenant: Tenant,
    visitor: Visitor,
    channel: str,
    client_id: str,
    body: str,
    files: list[IncomingFile] = (),
) -> tuple[Conversation, Message, bool]:
    """Store the visitor's message once per `client_id`: `(conversation, message, created)`.

    A file the attachment checks refuse raises their error (`AttachmentTypeRefused`,
    `AttachmentTooLarge`) and nothing is written.
    """
    with transaction.atomic():
        tokens: list[str] = []
        current = None
        if files:
            current, _started = conversation_services.conversation_open_or_start(
                tenant=tenant, visitor=visitor, channel=channel
            )
            tokens = [
                conversation_services.attachment_upload(
                    tenant=tenant,
                    conversation=current,
                    file=SimpleUploadedFile(item.filename, item.content, item.content_type),
                    uploader_side="visitor",
                ).token
                for item in files
            ]
        received = conversation_services.visitor_message_receive(
            tenant=tenant,
            visitor=visitor,
            client_id=client_id,
            body=body,
            attachment_tokens=tokens,
            current_conversation_id=current.pk if current is not None else None,
            channel=channel,
        )
    return received.conversation, received.message, received.created
