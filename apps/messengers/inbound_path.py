"""The one call from a messenger into the conversation services for a visitor's message.

Until the shared inbound service (`visitor_message_receive` in apps/conversations/services/)
lands, this adapter runs the existing visitor-message path: the visitor's open conversation
(or a new one on this channel), the files checked and stored as the visitor's uploads, then
`message_send` idempotent on `client_id`. Switching to the inbound service is a change here only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from apps.accounts.models import Tenant
from apps.conversations import services as conversation_services
from apps.conversations.errors import ConversationClosed
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
        conversation, _started = conversation_services.conversation_open_or_start(
            tenant=tenant, visitor=visitor, channel=channel
        )
        try:
            return _send(tenant, conversation, client_id, body, files)
        except ConversationClosed:
            # Closed between the look-up and the send: the visitor's words start a new chat.
            conversation = conversation_services.conversation_start(tenant=tenant, visitor=visitor, channel=channel)
            return _send(tenant, conversation, client_id, body, files)


def _send(
    tenant: Tenant, conversation: Conversation, client_id: str, body: str, files: list[IncomingFile]
) -> tuple[Conversation, Message, bool]:
    tokens = [
        conversation_services.attachment_upload(
            tenant=tenant,
            conversation=conversation,
            file=SimpleUploadedFile(item.filename, item.content, item.content_type),
            uploader_side="visitor",
        ).token
        for item in files
    ]
    message, created = conversation_services.message_send(
        tenant=tenant,
        conversation=conversation,
        author_type=Message.Author.VISITOR,
        body=body,
        client_id=client_id,
        attachment_tokens=tokens,
    )
    return conversation, message, created
