"""The JSON shapes of docs/protocol.md, built from model rows.

Two audiences see different things: operators get everything (notes, author ids,
visitor details); a visitor gets public messages with an operator's public name only,
never an email address, a membership id or a private note.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import orjson
from django.urls import reverse

from apps.conversations.models import Attachment, Conversation, Message, Visitor
from apps.core.tenancy import tenant_scope

Audience = Literal["visitor", "operator"]


def dumps(frame: dict[str, Any]) -> str:
    """The one place a frame becomes text: compact, UTF-8 as is (orjson, several times the stdlib's speed).

    A value orjson refuses (an integer over 64 bits) falls back to the standard library, which writes
    the same text for everything both accept and refuses the rest (a lazy string, a Decimal) as before.
    """
    try:
        return orjson.dumps(frame, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def operator_public_name(membership) -> str:
    """What a visitor may see of an operator (`Membership.name_for_visitors`), never the email."""
    return membership.name_for_visitors if membership is not None else ""


def operator_internal_name(membership) -> str:
    return membership.name_for_team if membership is not None else ""


def attachment_payload(attachment: Attachment) -> dict[str, Any]:
    return {
        "token": attachment.token,
        "filename": attachment.filename,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "is_image": attachment.is_image,
        "width": attachment.width,
        "height": attachment.height,
        "url": reverse("widget_api:attachment", args=[attachment.token]),
    }


def message_payload(message: Message, *, audience: Audience) -> dict[str, Any]:
    if message.author_type == Message.Author.OPERATOR:
        if audience == "operator":
            author_name = operator_internal_name(message.author)
        else:
            author_name = operator_public_name(message.author)
    elif message.author_type == Message.Author.VISITOR:
        author_name = message.conversation.visitor.name if audience == "operator" else ""
    else:
        author_name = ""
    data = dict(message.data or {})
    if audience == "visitor":
        data.pop("email_delivery", None)  # the operators' delivery report: addresses, a mail server's errors
    payload: dict[str, Any] = {
        "id": message.pk,
        "seq": message.seq,
        "client_id": message.client_id,
        "author_type": message.author_type,
        "author_name": author_name,
        "kind": message.kind,
        "body": message.body,
        "created_at": _iso(message.created_at),
        "attachments": [attachment_payload(a) for a in _attachments_of(message)],
        "data": data,
    }
    if audience == "operator":
        payload["author_id"] = message.author_id
        payload["read_at"] = _iso(message.read_at)
    return payload


def _attachments_of(message: Message) -> list[Attachment]:
    cache = getattr(message, "_prefetched_objects_cache", {})
    if "attachments" in cache:
        return list(cache["attachments"])
    attached = getattr(message, "_parley_attachments", None)
    if attached is not None:
        return attached
    if message.pk is None:
        return []
    with tenant_scope(message.tenant_id):
        return list(
            Attachment.objects.filter(tenant_id=message.tenant_id, message=message).order_by("created_at", "pk")
        )


def message_frame(message: Message, *, audience: Audience) -> dict[str, Any]:
    return {
        "type": "message",
        "conversation": message.conversation_id,
        "message": message_payload(message, audience=audience),
    }


def ack_frame(message: Message, *, audience: Audience) -> dict[str, Any]:
    """The answer to a `send` (also to a resend of a known client id)."""
    return {
        "type": "ack",
        "client_id": message.client_id,
        "conversation": message.conversation_id,
        "seq": message.seq,
        "message": message_payload(message, audience=audience),
    }


def read_frame(*, conversation_id: int, side: str, seq: int) -> dict[str, Any]:
    return {"type": "read", "conversation": conversation_id, "side": side, "seq": seq}


def typing_frame(
    *, conversation_id: int, side: str, on: bool, name: str = "", draft: str | None = None
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "typing",
        "conversation": conversation_id,
        "side": side,
        "on": bool(on),
        "name": name,
    }
    if draft is not None:
        frame["draft"] = draft
    return frame


def visitor_payload(visitor: Visitor) -> dict[str, Any]:
    """The visitor as operators see them."""
    return {
        "id": visitor.pk,
        "name": visitor.name,
        "email": visitor.email,
        "phone": visitor.phone,
        "avatar_url": visitor.avatar_url,
        "verified": visitor.verified_at is not None,
        "external_id": visitor.external_id,
        "language": visitor.language,
        "current_url": visitor.current_url,
        "current_title": visitor.current_title,
        "referrer": visitor.referrer,
        "visit_count": visitor.visit_count,
        "returning": visitor.is_returning,
        "first_seen_at": _iso(visitor.first_seen_at),
        "last_seen_at": _iso(visitor.last_seen_at),
    }


def visitor_frame(visitor: Visitor) -> dict[str, Any]:
    return {"type": "visitor", "visitor": visitor_payload(visitor)}


def conversation_summary(
    conversation: Conversation, *, audience: Audience, unread: int | None = None
) -> dict[str, Any]:
    if audience == "visitor":
        return {
            "id": conversation.pk,
            "status": conversation.status,
            "last_seq": conversation.last_seq,
            "operator_name": operator_public_name(conversation.assignee),
            "rating": conversation.rating,
        }
    assignee = conversation.assignee
    department = conversation.department
    visitor = conversation.visitor
    summary = {
        "id": conversation.pk,
        "status": conversation.status,
        "channel": conversation.channel,
        "subject": conversation.subject,
        "last_seq": conversation.last_seq,
        "visitor_read_seq": conversation.visitor_read_seq,
        "operator_read_seq": conversation.operator_read_seq,
        "created_at": _iso(conversation.created_at),
        "last_message_at": _iso(conversation.last_message_at),
        "first_reply_at": _iso(conversation.first_reply_at),
        "closed_at": _iso(conversation.closed_at),
        "rating": conversation.rating,
        "visitor": {"id": visitor.pk, "name": visitor.name, "email": visitor.email, "current_url": visitor.current_url},
        "assignee": {"id": assignee.pk, "name": assignee.name_for_team} if assignee is not None else None,
        "department": {"id": department.pk, "name": department.name} if department is not None else None,
    }
    if unread is not None:
        summary["unread"] = unread
    return summary


def conversation_frame(conversation: Conversation, event: str, *, audience: Audience) -> dict[str, Any]:
    return {
        "type": "conversation",
        "event": event,
        "conversation": conversation_summary(conversation, audience=audience),
    }


# The list's preview of a message (what `last_message` of the list endpoint holds), in characters.
PREVIEW_CHARS = 140


def list_item_for_message(message: Message) -> dict[str, Any]:
    """What the tenant's lists need of a new message (docs/protocol.md, "list"): no full body, no attachments."""
    conversation = message.conversation
    last_message: dict[str, Any] = {
        "seq": message.seq,
        "author_type": message.author_type,
        "kind": message.kind,
        "body": message.body[:PREVIEW_CHARS],
        "created_at": _iso(message.created_at),
    }
    if message.kind == Message.Kind.SYSTEM:
        last_message["data"] = message.data or {}  # the event and names the list translates
    item: dict[str, Any] = {
        "id": message.conversation_id,
        "status": conversation.status,
        "last_seq": message.seq,
        "last_message_at": _iso(conversation.last_message_at),
        "last_message": last_message,
    }
    if message.author_type == Message.Author.VISITOR:
        item["visitor_seqs"] = [message.seq]  # unread for the operators: counted once per seq
    return item


def list_item_for_read(*, conversation_id: int, operator_read_seq: int) -> dict[str, Any]:
    return {"id": conversation_id, "operator_read_seq": operator_read_seq}
