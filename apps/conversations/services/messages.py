"""Messages: the next one in a conversation (gapless `seq`, once per client id), notes, read marks.

Sequence numbers: a message's `seq` is taken from `Conversation.last_seq` while the
conversation row is locked (`SELECT ... FOR UPDATE`) inside the same transaction as the
insert, so concurrent senders get distinct, gapless numbers and a failed insert rolls the
increment back with it. On SQLite the transaction itself takes the write lock
(`transaction_mode=IMMEDIATE`).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models.signals import post_save
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Membership, Tenant
from apps.conversations import events
from apps.conversations.errors import BadInput, Conflict, ConversationClosed, Forbidden, NotFound
from apps.conversations.models import Attachment, Conversation, Message
from apps.conversations.services import cleaning
from apps.conversations.services.cleaning import BODY_MAX_CHARS, SERVER_CLIENT_ID_PREFIX
from apps.conversations.services.guards import active_member, conversation_lock, in_tenant_scope, own
from apps.conversations.services.types import Side
from apps.routing import hooks as routing

# Kinds a visitor's message may have: text from the widget, email from the email bridge.
VISITOR_KINDS = (Message.Kind.TEXT, Message.Kind.EMAIL)


def message_append(tenant: Tenant, conversation: Conversation, **fields: Any) -> Message:
    """Insert the next message. Call with `conversation` locked by `conversation_lock`; the caller saves `last_seq`."""
    conversation.last_seq += 1
    message = Message(tenant=tenant, conversation=conversation, seq=conversation.last_seq, **fields)
    message.save(force_insert=True)
    message._parley_attachments = []
    return message


SYSTEM_TEXTS = {
    "accepted": _("%(name)s joined the chat."),
    "assigned": _("%(name)s is now handling the chat."),
    "transferred": _("The chat was transferred to %(name)s."),
    "closed": _("The chat was closed."),
    "reopened": _("The chat was reopened."),
    "rated": _("The visitor rated the chat."),
}


def system_message(tenant: Tenant, conversation: Conversation, event: str, *, name: str = "", **extra: Any) -> Message:
    """A status line in the chat. `data` lets clients render it in their own language; `body` is a fallback."""
    with translation.override(tenant.default_language or settings.LANGUAGE_CODE):
        body = str(SYSTEM_TEXTS[event]) % {"name": name}
    return message_append(
        tenant,
        conversation,
        author_type=Message.Author.SYSTEM,
        kind=Message.Kind.SYSTEM,
        body=body,
        client_id=f"{SERVER_CLIENT_ID_PREFIX}system-{conversation.last_seq + 1}",
        data={"event": event, "name": name, **extra},
    )


@dataclass(frozen=True)
class MessageDraft:
    """A message that passed `message_check`: every field validated, nothing stored yet."""

    author_type: str
    author: Membership | None
    kind: str
    body: str
    client_id: str
    attachment_tokens: list[str]
    data: dict


def message_check(
    *,
    tenant: Tenant,
    author_type: str,
    author: Membership | None = None,
    body: Any,
    client_id: Any,
    kind: str = Message.Kind.TEXT,
    attachment_tokens: Any = (),
    data: dict | None = None,
) -> MessageDraft:
    """Validate a message before anything is written (check, then do): raises `BadInput`, `Forbidden`, `NotFound`."""
    # An invoice card is posted by the invoices service (never by a client), under a server client id.
    server_card = kind == Message.Kind.INVOICE and str(client_id).startswith(SERVER_CLIENT_ID_PREFIX)
    client_id = client_id if server_card and len(client_id) <= 64 else cleaning.client_id(client_id)
    if author_type == Message.Author.VISITOR:
        if author is not None:
            raise BadInput(_("A visitor message has no operator author."), field="author")
        if kind not in VISITOR_KINDS:
            raise Forbidden(_("Visitors can only send text."))
    elif author_type == Message.Author.OPERATOR:
        if author is None:
            raise BadInput(_("An operator message needs its author."), field="author")
        active_member(tenant, author)
        if kind not in (Message.Kind.TEXT, Message.Kind.NOTE) and not server_card:
            raise BadInput(_("kind must be text or note."), field="kind")
    else:
        raise BadInput(_("Unknown author type."), field="author_type")
    tokens = cleaning.attachment_tokens(attachment_tokens)
    body = cleaning.text(body, field="body", max_chars=BODY_MAX_CHARS, required=not tokens, multiline=True)
    if data is not None and not isinstance(data, dict):
        raise BadInput(_("data must be an object."), field="data")
    return MessageDraft(
        author_type=author_type,
        author=author,
        kind=kind,
        body=body,
        client_id=client_id,
        attachment_tokens=tokens,
        data=data or {},
    )


def message_store(*, tenant: Tenant, locked: Conversation, draft: MessageDraft) -> tuple[Message, bool]:
    """Store a checked message in `locked` (locked by `conversation_lock`, inside its transaction) once per
    client id; return `(message, created)`. A resend returns the stored message and publishes nothing.

    Raises `ConversationClosed` (before writing anything) for new text in a closed conversation.
    """
    existing = (
        Message.objects.filter(tenant=tenant, conversation=locked, client_id=draft.client_id)
        .select_related("author__user")
        .first()
    )
    if existing is not None:
        if existing.author_type != draft.author_type or existing.author_id != (
            draft.author.pk if draft.author else None
        ):
            raise Conflict(_("This client_id belongs to another message."), field="client_id")
        existing.conversation = locked
        return existing, False
    if locked.is_closed and draft.kind != Message.Kind.NOTE:
        raise ConversationClosed()
    attachments: list[Attachment] = []
    if draft.attachment_tokens:
        attachments = list(
            Attachment.objects.select_for_update()
            .filter(
                tenant=tenant,
                conversation=locked,
                token__in=draft.attachment_tokens,
                message__isnull=True,
                uploader_side=draft.author_type,
            )
            .order_by("created_at", "pk")
        )
        if len(attachments) != len(draft.attachment_tokens):
            raise BadInput(_("An attachment is unknown or already sent."), field="attachments")
    stored_kind = draft.kind
    if draft.kind == Message.Kind.TEXT and attachments and not draft.body:
        stored_kind = Message.Kind.ATTACHMENT
    message = message_append(
        tenant,
        locked,
        author_type=draft.author_type,
        author=draft.author,
        kind=stored_kind,
        body=draft.body,
        client_id=draft.client_id,
        data=draft.data,
    )
    if attachments:
        Attachment.objects.filter(tenant=tenant, pk__in=[a.pk for a in attachments]).update(message=message)
        for attachment in attachments:
            attachment.message = message
        message._parley_attachments = attachments
    update_fields = ["last_seq"]
    awaited = locked.awaiting_reply_since
    if stored_kind != Message.Kind.NOTE:
        locked.last_message_at = message.created_at
        update_fields.append("last_message_at")
        if draft.author_type == Message.Author.OPERATOR and locked.first_reply_at is None:
            locked.first_reply_at = message.created_at
            update_fields.append("first_reply_at")
        if draft.author_type == Message.Author.OPERATOR:
            locked.awaiting_reply_since = None
        elif locked.first_reply_at is not None and awaited is None:
            locked.awaiting_reply_since = message.created_at
        if locked.awaiting_reply_since != awaited:
            update_fields.append("awaiting_reply_since")
    locked.save(update_fields=update_fields)
    events.message_created(message)
    if locked.awaiting_reply_since is not None and awaited is None:
        routing.reply_awaited(tenant=tenant, conversation=locked, since=locked.awaiting_reply_since)
    return message, True


def _aware(value: Any) -> Any:
    """A datetime read back by raw SQL: SQLite gives text, PostgreSQL an aware datetime."""
    if value is None or isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return value
    value = Conversation._meta.get_field("first_reply_at").to_python(value)
    return timezone.make_aware(value, datetime.UTC) if timezone.is_naive(value) else value


def message_store_fast(
    *, tenant: Tenant, conversation: Conversation, draft: MessageDraft, visitor_id: int | None = None
) -> tuple[Message, bool] | None:
    """`message_store` for the common message (text, no files, not a note) in two statements, no SELECT.

    1. `UPDATE conversation SET last_seq = last_seq + 1, ... WHERE <open, this tenant's[, this visitor's]>
       RETURNING ...`: the row lock and the next gapless seq at once;
    2. `INSERT message ... ON CONFLICT (conversation, client_id) DO NOTHING RETURNING id`: the
       idempotency check folded into the insert. A resend (nothing inserted) puts the conversation's
       counters back, still under the lock, and answers with the stored message.

    Returns None, having changed nothing, when the conversation is missing, someone else's or closed:
    the caller then takes the locked path, which says which. Call inside a transaction; `post_save`
    is sent for the new row as `Model.save()` would (the email bridge listens).
    """
    if draft.attachment_tokens or draft.kind == Message.Kind.NOTE or conversation.pk is None:
        return None
    qn = connection.ops.quote_name
    now = timezone.now()
    sets, params = ["last_seq = last_seq + 1", "last_message_at = %s"], [now]
    if draft.author_type == Message.Author.OPERATOR:
        sets += ["first_reply_at = COALESCE(first_reply_at, %s)", "awaiting_reply_since = NULL"]
        params.append(now)
    else:
        # The next-response clock starts at the visitor's first message after a reply (SET reads old values).
        sets.append(
            "awaiting_reply_since = CASE WHEN first_reply_at IS NULL THEN NULL "
            "ELSE COALESCE(awaiting_reply_since, %s) END"
        )
        params.append(now)
    where = "id = %s AND tenant_id = %s AND status <> %s"
    params += [conversation.pk, tenant.pk, Conversation.Status.CLOSED]
    if visitor_id is not None:
        where += " AND visitor_id = %s"
        params.append(visitor_id)
    table = qn(Conversation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {', '.join(sets)} WHERE {where} "  # noqa: S608
            "RETURNING last_seq, first_reply_at, status, awaiting_reply_since",
            params,
        )
        row = cursor.fetchone()
        if row is None:
            return None
        seq, first_reply_at, status, awaiting_since = row[0], _aware(row[1]), row[2], _aware(row[3])
        message = Message(
            tenant=tenant,
            conversation=conversation,
            seq=seq,
            author_type=draft.author_type,
            author=draft.author,
            kind=draft.kind,
            body=draft.body,
            client_id=draft.client_id,
            data=draft.data,
            created_at=now,
        )
        fields = [field for field in Message._meta.concrete_fields if not field.primary_key]
        values = [field.get_db_prep_save(field.pre_save(message, True), connection) for field in fields]
        cursor.execute(
            f"INSERT INTO {qn(Message._meta.db_table)} ({', '.join(qn(field.column) for field in fields)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({qn('conversation_id')}, {qn('client_id')}) DO NOTHING RETURNING {qn('id')}",
            values,
        )
        inserted = cursor.fetchone()
        if inserted is None:
            # A resend: this client id is stored already. Undo the counters (the row is still ours).
            undo = ["last_seq = last_seq - 1"]
            undo_params: list[Any] = []
            undo.append(
                f"last_message_at = COALESCE((SELECT MAX(created_at) FROM {qn(Message._meta.db_table)} "  # noqa: S608
                "WHERE conversation_id = %s AND kind <> %s), created_at)"
            )
            undo_params += [conversation.pk, Message.Kind.NOTE]
            if first_reply_at == now:  # it was empty before this statement
                undo.append("first_reply_at = NULL")
            if draft.author_type == Message.Author.VISITOR and awaiting_since == now:  # this statement set it
                undo.append("awaiting_reply_since = NULL")
            elif draft.author_type == Message.Author.OPERATOR and first_reply_at != now:
                # This statement cleared the clock: the visitor's first message after the last reply restarts it.
                msg = qn(Message._meta.db_table)
                undo.append(
                    f"awaiting_reply_since = (SELECT MIN(created_at) FROM {msg} WHERE conversation_id = %s "  # noqa: S608
                    f"AND author_type = %s AND seq > COALESCE((SELECT MAX(seq) FROM {msg} WHERE conversation_id = %s "
                    "AND author_type = %s AND kind <> %s), 0))"
                )
                undo_params += [
                    conversation.pk,
                    Message.Author.VISITOR,
                    conversation.pk,
                    Message.Author.OPERATOR,
                    Message.Kind.NOTE,
                ]
            cursor.execute(f"UPDATE {table} SET {', '.join(undo)} WHERE id = %s", [*undo_params, conversation.pk])  # noqa: S608
    if inserted is None:
        existing = (
            Message.objects.filter(tenant=tenant, conversation_id=conversation.pk, client_id=draft.client_id)
            .select_related("author__user")
            .first()
        )
        if existing.author_type != draft.author_type or existing.author_id != (
            draft.author.pk if draft.author else None
        ):
            raise Conflict(_("This client_id belongs to another message."), field="client_id")
        existing.conversation = conversation
        return existing, False
    message.pk = inserted[0]
    message._state.adding = False
    message._state.db = connection.alias
    message._parley_attachments = []
    conversation.last_seq, conversation.status = seq, status
    conversation.last_message_at, conversation.first_reply_at = now, first_reply_at
    conversation.awaiting_reply_since = awaiting_since
    post_save.send(
        sender=Message, instance=message, created=True, update_fields=None, raw=False, using=connection.alias
    )
    events.message_created(message)
    if draft.author_type == Message.Author.VISITOR and awaiting_since == now:
        routing.reply_awaited(tenant=tenant, conversation=conversation, since=now)
    return message, True


@in_tenant_scope
def message_send(
    *,
    tenant: Tenant,
    conversation: Conversation,
    author_type: str,
    author: Membership | None = None,
    body: str,
    client_id: str,
    kind: str = Message.Kind.TEXT,
    attachment_tokens: Sequence[str] = (),
    data: dict | None = None,
) -> tuple[Message, bool]:
    """Store a message once per `(conversation, client_id)`; return `(message, created)`.

    A resend of a known client id returns the stored message and publishes nothing.
    A closed conversation refuses new text with `ConversationClosed` (a visitor's message goes
    through `visitor_message_receive`, which then starts a new conversation); private notes
    may still be added to it.
    """
    draft = message_check(
        tenant=tenant,
        author_type=author_type,
        author=author,
        body=body,
        client_id=client_id,
        kind=kind,
        attachment_tokens=attachment_tokens,
        data=data,
    )
    own(tenant, conversation)
    with transaction.atomic():
        stored = message_store_fast(tenant=tenant, conversation=conversation, draft=draft)
        if stored is not None:
            return stored
        locked = conversation_lock(tenant, conversation)
        return message_store(tenant=tenant, locked=locked, draft=draft)


@in_tenant_scope
def note_add(
    *, tenant: Tenant, conversation: Conversation, author: Membership, body: str, client_id: str
) -> tuple[Message, bool]:
    """A private note in the conversation: operators only, never sent to the visitor."""
    return message_send(
        tenant=tenant,
        conversation=conversation,
        author_type=Message.Author.OPERATOR,
        author=author,
        body=body,
        client_id=client_id,
        kind=Message.Kind.NOTE,
    )


@in_tenant_scope
def message_mark_read(*, tenant: Tenant, conversation: Conversation, side: Side, seq: int) -> None:
    """Record that `side` has read up to `seq`. Monotonic: a lower or equal seq changes nothing.

    The other side's messages up to `seq` get `read_at`; a `read` frame tells both sides.
    """
    own(tenant, conversation)
    if side not in ("visitor", "operator"):
        raise BadInput(_("side must be visitor or operator."), field="side")
    if type(seq) is not int or seq < 0:
        raise BadInput(_("seq must be a whole number."), field="seq")
    field = "visitor_read_seq" if side == "visitor" else "operator_read_seq"
    with transaction.atomic():
        last_seq = (
            Conversation.objects.filter(pk=conversation.pk, tenant=tenant).values_list("last_seq", flat=True).first()
        )
        if last_seq is None:
            raise NotFound()
        seq = min(seq, last_seq)
        # A conditional UPDATE keeps it monotonic under concurrent reads without locking the row.
        moved = Conversation.objects.filter(pk=conversation.pk, tenant=tenant, **{f"{field}__lt": seq}).update(
            **{field: seq}
        )
        if not moved:
            return
        setattr(conversation, field, seq)
        if side == "visitor":
            others = Message.objects.filter(author_type=Message.Author.OPERATOR).exclude(kind=Message.Kind.NOTE)
        else:
            others = Message.objects.filter(author_type=Message.Author.VISITOR)
        others.filter(tenant=tenant, conversation_id=conversation.pk, seq__lte=seq, read_at__isnull=True).update(
            read_at=timezone.now()
        )
        events.messages_read(tenant_id=tenant.pk, conversation_id=conversation.pk, side=side, seq=seq)
