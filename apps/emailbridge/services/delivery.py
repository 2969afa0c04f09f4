"""From a parsed email to a message in a conversation, through the conversation services.

Threading, in this order: a signed reply address among the recipients; a signed Parley
Message-ID in In-Reply-To or References; a signed marker in the body (for providers that
rewrite Message-IDs); a Message-ID of mail the same sender sent us before. Nothing else:
never the subject, so two people answering the same newsletter never share a chat.
"""

from __future__ import annotations

import contextlib
import secrets

from django.core.files.base import ContentFile
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext

from apps.accounts.models import Tenant
from apps.conversations import services as conversation_services
from apps.conversations.errors import BadInput
from apps.conversations.models import Attachment, Conversation, Message, Visitor
from apps.conversations.services import BODY_MAX_CHARS
from apps.emailbridge import addressing
from apps.emailbridge.models import EmailSettings, InboundEmail
from apps.emailbridge.parsing import ParsedAttachment, ParsedEmail

IMAGE_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def _conversation(tenant: Tenant, ref: addressing.ThreadRef | None) -> Conversation | None:
    if ref is None or ref.tenant_id != tenant.pk:
        return None
    return Conversation.objects.filter(tenant=tenant, pk=ref.conversation_id).select_related("visitor").first()


def find_conversation(tenant: Tenant, row: InboundEmail, parsed: ParsedEmail) -> tuple[Conversation | None, str]:
    """The conversation this mail continues and how it was found, or `(None, "")`."""
    recipients = [row.envelope_to, *(a for _, a in parsed.to + parsed.cc), *parsed.delivered_to]
    for address in recipients:
        found = _conversation(tenant, addressing.parse_reply_address(address))
        if found is not None:
            return found, "reply_address"
    for message_id in parsed.reference_ids:
        found = _conversation(tenant, addressing.parse_message_id(message_id))
        if found is not None:
            return found, "message_id"
    for ref in addressing.find_body_markers(parsed.text + "\n" + parsed.html):
        found = _conversation(tenant, ref)
        if found is not None:
            return found, "body_marker"
    if parsed.reference_ids and parsed.from_address:
        earlier = (
            InboundEmail.objects.filter(
                tenant=tenant,
                message_id__in=parsed.reference_ids[:50],
                from_address=parsed.from_address,
                conversation__isnull=False,
            )
            .order_by("-received_at")
            .first()
        )
        if earlier is not None:
            found = Conversation.objects.filter(tenant=tenant, pk=earlier.conversation_id).first()
            if found is not None:
                return found, "same_sender_reference"
    return None, ""


def visitor_for_sender(tenant: Tenant, parsed: ParsedEmail, row: InboundEmail) -> Visitor:
    """The visitor who wrote: the one with this email address, or a new one named after the sender."""
    address = parsed.from_address or row.envelope_from.lower()
    if address:
        known = Visitor.objects.filter(tenant=tenant, email=address).order_by("-last_seen_at").first()
        if known is not None:
            return known
    seed = address or row.dedup_key
    # Keyed with the secret key: one sender is one visitor, and nobody who knows the address can
    # compute the id and open a widget session as that visitor (their email history).
    keyed = salted_hmac("parley.emailbridge.visitor", f"{tenant.pk}:{seed}", algorithm="sha256")
    anonymous_id = "email-" + keyed.hexdigest()[:40]
    visitor = conversation_services.visitor_identify(tenant=tenant, anonymous_id=anonymous_id, name=parsed.from_name)
    if address and not visitor.email:
        # An address Django will not validate: the visitor stays, without it.
        with contextlib.suppress(BadInput):
            visitor = conversation_services.visitor_update(tenant=tenant, visitor=visitor, email=address)
    return visitor


def _safe_content_type(attachment: ParsedAttachment) -> str:
    """Images count as images only when their bytes say so; everything else downloads."""
    declared = attachment.content_type.lower()
    magic = IMAGE_MAGIC.get(declared)
    if magic is not None:
        return declared if attachment.payload.startswith(magic) else "application/octet-stream"
    if declared == "image/webp":
        ok = attachment.payload[:4] == b"RIFF" and attachment.payload[8:12] == b"WEBP"
        return declared if ok else "application/octet-stream"
    return declared if declared.count("/") == 1 and len(declared) <= 100 else "application/octet-stream"


def attachment_listing(parsed: ParsedEmail, limit: int) -> list[dict]:
    """Every attachment of the mail, stored or not, for the record kept on the inbound row."""
    listing = []
    for index, attachment in enumerate(parsed.attachments):
        entry = {
            "index": index,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "inline": attachment.inline,
            "content_id": attachment.content_id,
        }
        if attachment.size == 0:
            entry["skipped"] = "empty"
        elif attachment.size > limit:
            entry["skipped"] = "too_large"
        listing.append(entry)
    return listing


def _store_attachments(
    tenant: Tenant, conversation: Conversation, message: Message, parsed: ParsedEmail, listing: list[dict]
) -> list[Attachment]:
    stored = []
    for entry in listing:
        if entry.get("skipped"):
            continue
        part = parsed.attachments[entry["index"]]
        attachment = Attachment(
            tenant=tenant,
            conversation=conversation,
            message=message,
            token=secrets.token_urlsafe(24),
            uploader_side="visitor",
            filename=part.filename or gettext("file"),
            content_type=_safe_content_type(part),
            size=part.size,
        )
        attachment.file.save(attachment.token, ContentFile(part.payload), save=False)
        attachment.save(force_insert=True)
        entry["token"] = attachment.token
        stored.append(attachment)
    return stored


def message_data(row: InboundEmail, parsed: ParsedEmail, listing: list[dict], truncated: bool, found_by: str) -> dict:
    return {
        "email": {
            "inbound_id": row.pk,
            "subject": parsed.subject,
            "from": parsed.from_address,
            "from_name": parsed.from_name,
            "to": [address for _, address in parsed.to],
            "cc": [address for _, address in parsed.cc],
            "quoted": parsed.quoted,
            "has_html": bool(parsed.html),
            "truncated": truncated,
            "threaded_by": found_by,
            "attachments_skipped": [
                {"filename": e["filename"], "size": e["size"], "reason": e["skipped"]}
                for e in listing
                if e.get("skipped")
            ],
        }
    }


def deliver(
    tenant: Tenant, row: InboundEmail, parsed: ParsedEmail, settings_row: EmailSettings, listing: list[dict]
) -> tuple[Conversation, Message, bool]:
    """Put the mail in its conversation (found, reopened or new); `(conversation, message, conversation_created)`.

    Call inside a transaction: the attachments are stored with the message, and the
    message event (sent on commit) lists them.
    """
    conversation, found_by = find_conversation(tenant, row, parsed)
    created = False
    if conversation is None:
        visitor = visitor_for_sender(tenant, parsed, row)
        conversation = conversation_services.conversation_start(
            tenant=tenant, visitor=visitor, channel=Conversation.Channel.EMAIL, subject=parsed.subject[:300]
        )
        created = True
    elif conversation.is_closed:
        # A reply to a closed conversation reopens it and is routed like any reopen.
        conversation = conversation_services.conversation_reopen(tenant=tenant, conversation=conversation)
    body = parsed.display_text.strip() or parsed.text.strip() or parsed.subject or gettext("(no text)")
    truncated = len(body) > BODY_MAX_CHARS
    if truncated:
        body = body[: BODY_MAX_CHARS - 1] + "…"
    message, _ = conversation_services.message_send(
        tenant=tenant,
        conversation=conversation,
        author_type=Message.Author.VISITOR,
        kind=Message.Kind.EMAIL,
        body=body,
        client_id=f"email-{row.dedup_key[:40]}",
        data=message_data(row, parsed, listing, truncated, found_by),
    )
    if not Attachment.objects.filter(tenant=tenant, message=message).exists():
        # More than the chat's per-message limit may arrive by mail: attach them all here, and the
        # message event sent on commit lists them (it reads `_parley_attachments`).
        message._parley_attachments = _store_attachments(tenant, conversation, message, parsed, listing)
    return conversation, message, created
