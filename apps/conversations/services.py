"""Every state change of visitors, conversations, messages and attachments.

Keyword-only, typed functions. Each takes the tenant, runs inside its scope, checks that
every object it was handed belongs to it (another tenant's object is `NotFound`), writes
in one transaction and announces the result through `events` on commit. Consumers, views,
tasks and the email bridge call these; none of them writes on its own.

Sequence numbers: a message's `seq` is taken from `Conversation.last_seq` while the
conversation row is locked (`SELECT ... FOR UPDATE`) inside the same transaction as the
insert, so concurrent senders get distinct, gapless numbers and a failed insert rolls the
increment back with it. On SQLite the transaction itself takes the write lock
(`transaction_mode=IMMEDIATE`).
"""

from __future__ import annotations

import codecs
import functools
import re
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Literal, ParamSpec, TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Department, Membership, Tenant
from apps.conversations import events
from apps.conversations.errors import (
    AttachmentTooLarge,
    AttachmentTypeRefused,
    BadInput,
    Conflict,
    ConversationClosed,
    Forbidden,
    NotFound,
)
from apps.conversations.frames import operator_public_name
from apps.conversations.models import Attachment, Conversation, Message, PageView, Visitor, VisitorNote
from apps.core.tenancy import on_commit_in_scope, tenant_scope

P = ParamSpec("P")
R = TypeVar("R")

Side = Literal["visitor", "operator"]

BODY_MAX_CHARS = 5000
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_\-:.]{1,64}")
# Messages the server writes itself get client ids with a character no client may use, so a
# client cannot take (and so block) the id of a future system message.
SERVER_CLIENT_ID_PREFIX = "#"
ANONYMOUS_ID_RE = re.compile(r"[A-Za-z0-9_\-]{8,64}")
MAX_ATTACHMENTS_PER_MESSAGE = 10
VISIT_IDLE = timedelta(minutes=30)
OPEN_STATUSES = (Conversation.Status.QUEUED, Conversation.Status.OPEN, Conversation.Status.PENDING)


def _in_tenant_scope(fn: Callable[P, R]) -> Callable[P, R]:
    """Run the service inside its tenant's scope, whatever scope the caller is in."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        tenant = kwargs.get("tenant")
        if not isinstance(tenant, Tenant) or tenant.pk is None:
            raise TypeError(f"{fn.__name__}() needs tenant=<saved Tenant>")
        with tenant_scope(tenant):
            return fn(*args, **kwargs)

    return wrapper


def _on_commit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    # robust: a channel-layer failure after the commit must not turn a stored message into an error.
    on_commit_in_scope(functools.partial(fn, *args, **kwargs), robust=True)


# --- input cleaning -------------------------------------------------------------------------

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(value: Any, *, field: str, max_chars: int, required: bool = False, multiline: bool = False) -> str:
    """Strip a client string; refuse non-strings, over-long values and (if required) empty ones."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadInput(_("This field must be text."), field=field)
    value = _CONTROL_CHARS.sub("", value).strip()
    if not multiline:
        value = " ".join(value.split())
    if required and not value:
        raise BadInput(_("This field is required."), field=field)
    if len(value) > max_chars:
        raise BadInput(_("This field is too long (at most %(max)s characters).") % {"max": max_chars}, field=field)
    return value


def _truncated(value: Any, max_chars: int) -> str:
    """For descriptive metadata (titles, user agents): keep what fits instead of refusing the call."""
    if not isinstance(value, str):
        return ""
    return " ".join(_CONTROL_CHARS.sub("", value).split())[:max_chars]


def _url(value: Any, *, field: str, required: bool) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str):
        raise BadInput(_("Enter a valid web address."), field=field)
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in {"http", "https"}
        or not parts.netloc
        or len(value) > 2000
        or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value)
    ):
        raise BadInput(_("Enter a valid web address."), field=field)
    return value


def _client_id(value: Any) -> str:
    if not isinstance(value, str) or not CLIENT_ID_RE.fullmatch(value):
        raise BadInput(_("client_id must be 1-64 letters, digits or - _ : . characters."), field="client_id")
    return value


def _attachment_tokens(value: Any) -> list[str]:
    if value is None:
        return []
    # The type of every item first: a dict or a list in the list is unhashable (TypeError below).
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not all(isinstance(t, str) and 0 < len(t) <= 64 for t in value)
    ):
        raise BadInput(_("attachments must be a list of upload tokens."), field="attachments")
    tokens = list(dict.fromkeys(value))
    if len(tokens) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise BadInput(
            _("At most %(max)s files per message.") % {"max": MAX_ATTACHMENTS_PER_MESSAGE}, field="attachments"
        )
    if not all(isinstance(t, str) and 0 < len(t) <= 64 for t in tokens):
        raise BadInput(_("attachments must be a list of upload tokens."), field="attachments")
    return tokens


def _own(tenant: Tenant, obj: Any) -> None:
    """Another tenant's object is answered like a missing one."""
    if obj is None or obj.pk is None or obj.tenant_id != tenant.pk:
        raise NotFound()


def _active_member(tenant: Tenant, membership: Any) -> Membership:
    if not isinstance(membership, Membership) or membership.tenant_id != tenant.pk:
        raise NotFound()
    if not membership.is_active:
        raise Forbidden(_("This operator is not active."))
    return membership


def _lock(tenant: Tenant, conversation: Conversation) -> Conversation:
    """Reload the conversation with its row locked until the transaction ends (call inside atomic)."""
    _own(tenant, conversation)
    try:
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk, tenant=tenant)
    except Conversation.DoesNotExist:
        raise NotFound() from None
    # Keep related rows the caller already loaded (saves queries when events are built).
    cache = conversation._state.fields_cache
    for name in ("visitor", "assignee", "department"):
        if name in cache and getattr(locked, f"{name}_id") == getattr(conversation, f"{name}_id"):
            locked._state.fields_cache[name] = cache[name]
    return locked


def _append(tenant: Tenant, conversation: Conversation, **fields: Any) -> Message:
    """Insert the next message. Call with `conversation` locked by `_lock`; the caller saves `last_seq`."""
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


def _system_message(tenant: Tenant, conversation: Conversation, event: str, *, name: str = "", **extra: Any) -> Message:
    """A status line in the chat. `data` lets clients render it in their own language; `body` is a fallback."""
    with translation.override(tenant.default_language or settings.LANGUAGE_CODE):
        body = str(SYSTEM_TEXTS[event]) % {"name": name}
    return _append(
        tenant,
        conversation,
        author_type=Message.Author.SYSTEM,
        kind=Message.Kind.SYSTEM,
        body=body,
        client_id=f"{SERVER_CLIENT_ID_PREFIX}system-{conversation.last_seq + 1}",
        data={"event": event, "name": name, **extra},
    )


def _publish_message(message: Message) -> None:
    _on_commit(events.publish_message_created, message)


# --- visitors ---------------------------------------------------------------------------------


def _touch(visitor: Visitor, now) -> list[str]:
    """Mark the visitor seen now; a gap of over 30 minutes starts a new visit. Returns changed fields."""
    changed = ["last_seen_at"]
    if now - visitor.last_seen_at > VISIT_IDLE:
        visitor.visit_count += 1
        visitor.visit_started_at = now
        changed += ["visit_count", "visit_started_at"]
    visitor.last_seen_at = now
    return changed


@_in_tenant_scope
def visitor_identify(
    *,
    tenant: Tenant,
    anonymous_id: str | None,
    name: str = "",
    language: str = "",
    user_agent: str = "",
    url: str = "",
    title: str = "",
    referrer: str = "",
) -> Visitor:
    """Load the visitor the widget knows by `anonymous_id`, or create one (with a fresh id if none or malformed)."""
    name = _truncated(name, 120)
    language = _truncated(language, 16)
    user_agent = _truncated(user_agent, 400)
    try:
        url = _url(url, field="url", required=False)
    except BadInput:
        url = ""
    try:
        referrer = _url(referrer, field="referrer", required=False)
    except BadInput:
        referrer = ""
    if not isinstance(anonymous_id, str) or not ANONYMOUS_ID_RE.fullmatch(anonymous_id):
        anonymous_id = secrets.token_urlsafe(18)
    now = timezone.now()
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().filter(tenant=tenant, anonymous_id=anonymous_id).first()
        if visitor is None:
            try:
                with transaction.atomic():
                    visitor = Visitor.objects.create(
                        tenant=tenant,
                        anonymous_id=anonymous_id,
                        name=name,
                        language=language,
                        user_agent=user_agent,
                        referrer=referrer,
                        first_seen_at=now,
                        last_seen_at=now,
                        visit_started_at=now,
                    )
            except IntegrityError:
                # Two first calls with the same id raced (two tabs): the other one created it.
                visitor = Visitor.objects.select_for_update().get(tenant=tenant, anonymous_id=anonymous_id)
        else:
            changed = _touch(visitor, now)
            for field, value in (("language", language), ("user_agent", user_agent)):
                if value and getattr(visitor, field) != value:
                    setattr(visitor, field, value)
                    changed.append(field)
            if name and not visitor.name:
                visitor.name = name
                changed.append("name")
            if referrer and "visit_started_at" in changed:
                visitor.referrer = referrer
                changed.append("referrer")
            visitor.save(update_fields=changed)
        if url:
            _page_view(tenant, visitor, url=url, title=_truncated(title, 300), referrer=referrer, now=now)
        _on_commit(events.publish_visitor, visitor)
    return visitor


def _page_view(tenant: Tenant, visitor: Visitor, *, url: str, title: str, referrer: str, now) -> PageView:
    view = PageView.objects.create(
        tenant=tenant, visitor=visitor, url=url, title=title, referrer=referrer, viewed_at=now
    )
    visitor.current_url = url
    visitor.current_title = title
    visitor.save(update_fields=["current_url", "current_title"])
    return view


@_in_tenant_scope
def page_view_record(*, tenant: Tenant, visitor: Visitor, url: str, title: str = "", referrer: str = "") -> PageView:
    _own(tenant, visitor)
    url = _url(url, field="url", required=True)
    try:
        referrer = _url(referrer, field="referrer", required=False)
    except BadInput:
        referrer = ""
    title = _truncated(title, 300)
    now = timezone.now()
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk, tenant=tenant)
        visitor.save(update_fields=_touch(visitor, now))
        view = _page_view(tenant, visitor, url=url, title=title, referrer=referrer, now=now)
        _on_commit(events.publish_visitor, visitor)
    return view


@_in_tenant_scope
def visitor_update(
    *, tenant: Tenant, visitor: Visitor, name: str | None = None, email: str | None = None, phone: str | None = None
) -> Visitor:
    """What the visitor tells about themselves (pre-chat form) or an operator corrects."""
    _own(tenant, visitor)
    changes: dict[str, str] = {}
    if name is not None:
        changes["name"] = _text(name, field="name", max_chars=120)
    if email is not None:
        email = _text(email, field="email", max_chars=254).lower()
        if email:
            try:
                validate_email(email)
            except DjangoValidationError:
                raise BadInput(_("Enter a valid email address."), field="email") from None
        changes["email"] = email
    if phone is not None:
        phone = _text(phone, field="phone", max_chars=40)
        if phone and not re.fullmatch(r"[0-9+()\-. /]{3,40}", phone):
            raise BadInput(_("Enter a valid phone number."), field="phone")
        changes["phone"] = phone
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk, tenant=tenant)
        changed = [field for field, value in changes.items() if getattr(visitor, field) != value]
        if not changed:
            return visitor
        for field in changed:
            setattr(visitor, field, changes[field])
        visitor.save(update_fields=changed)
        _on_commit(events.publish_visitor, visitor)
    return visitor


@_in_tenant_scope
def visitor_note_add(*, tenant: Tenant, visitor: Visitor, author: Membership, body: str) -> VisitorNote:
    """An operator's note about the visitor, kept across conversations. Never shown to the visitor; not broadcast."""
    _own(tenant, visitor)
    _active_member(tenant, author)
    body = _text(body, field="body", max_chars=4000, required=True, multiline=True)
    with transaction.atomic():
        return VisitorNote.objects.create(tenant=tenant, visitor=visitor, author=author, body=body)


# --- conversations ----------------------------------------------------------------------------


@_in_tenant_scope
def conversation_start(
    *,
    tenant: Tenant,
    visitor: Visitor,
    channel: str = Conversation.Channel.WIDGET,
    department: Department | None = None,
    subject: str = "",
) -> Conversation:
    _own(tenant, visitor)
    if department is not None:
        _own(tenant, department)
    if channel not in Conversation.Channel.values:
        raise BadInput(_("Unknown channel."), field="channel")
    subject = _text(subject, field="subject", max_chars=300)
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.create(
            tenant=tenant,
            visitor=visitor,
            channel=channel,
            department=department,
            subject=subject,
            status=Conversation.Status.QUEUED,
            created_at=now,
            last_message_at=now,
        )
        _on_commit(events.publish_conversation, conversation, "created")
    return conversation


@_in_tenant_scope
def conversation_open_or_start(
    *, tenant: Tenant, visitor: Visitor, channel: str = Conversation.Channel.WIDGET
) -> tuple[Conversation, bool]:
    """The visitor's open conversation, or a new one: `(conversation, created)`.

    Serialised on the visitor's row, so two tabs sending their first message at once share one chat.
    """
    _own(tenant, visitor)
    with transaction.atomic():
        if Visitor.objects.select_for_update().filter(pk=visitor.pk, tenant=tenant).values_list("pk").first() is None:
            raise NotFound()
        conversation = (
            Conversation.objects.filter(tenant=tenant, visitor=visitor, status__in=OPEN_STATUSES)
            .order_by("-created_at", "-pk")
            .first()
        )
        if conversation is not None:
            conversation.visitor = visitor
            return conversation, False
        return conversation_start(tenant=tenant, visitor=visitor, channel=channel), True


@_in_tenant_scope
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
    A closed conversation refuses new text with `ConversationClosed` (a visitor's caller then
    starts a new conversation); private notes may still be added to it.
    """
    # An invoice card is posted by the invoices service (never by a client), under a server client id.
    server_card = kind == Message.Kind.INVOICE and str(client_id).startswith(SERVER_CLIENT_ID_PREFIX)
    client_id = client_id if server_card and len(client_id) <= 64 else _client_id(client_id)
    _own(tenant, conversation)
    if author_type == Message.Author.VISITOR:
        if author is not None:
            raise BadInput(_("A visitor message has no operator author."), field="author")
        if kind not in (Message.Kind.TEXT, Message.Kind.EMAIL):  # email: the email bridge's messages
            raise Forbidden(_("Visitors can only send text."))
    elif author_type == Message.Author.OPERATOR:
        if author is None:
            raise BadInput(_("An operator message needs its author."), field="author")
        _active_member(tenant, author)
        if kind not in (Message.Kind.TEXT, Message.Kind.NOTE) and not server_card:
            raise BadInput(_("kind must be text or note."), field="kind")
    else:
        raise BadInput(_("Unknown author type."), field="author_type")
    tokens = _attachment_tokens(attachment_tokens)
    body = _text(body, field="body", max_chars=BODY_MAX_CHARS, required=not tokens, multiline=True)
    if data is not None and not isinstance(data, dict):
        raise BadInput(_("data must be an object."), field="data")

    with transaction.atomic():
        locked = _lock(tenant, conversation)
        existing = (
            Message.objects.filter(tenant=tenant, conversation=locked, client_id=client_id)
            .select_related("author__user")
            .first()
        )
        if existing is not None:
            if existing.author_type != author_type or existing.author_id != (author.pk if author else None):
                raise Conflict(_("This client_id belongs to another message."), field="client_id")
            existing.conversation = locked
            return existing, False
        if locked.is_closed and kind != Message.Kind.NOTE:
            raise ConversationClosed()
        attachments: list[Attachment] = []
        if tokens:
            attachments = list(
                Attachment.objects.select_for_update()
                .filter(
                    tenant=tenant,
                    conversation=locked,
                    token__in=tokens,
                    message__isnull=True,
                    uploader_side=author_type,
                )
                .order_by("created_at", "pk")
            )
            if len(attachments) != len(tokens):
                raise BadInput(_("An attachment is unknown or already sent."), field="attachments")
        stored_kind = kind
        if kind == Message.Kind.TEXT and attachments and not body:
            stored_kind = Message.Kind.ATTACHMENT
        message = _append(
            tenant,
            locked,
            author_type=author_type,
            author=author,
            kind=stored_kind,
            body=body,
            client_id=client_id,
            data=data or {},
        )
        if attachments:
            Attachment.objects.filter(tenant=tenant, pk__in=[a.pk for a in attachments]).update(message=message)
            for attachment in attachments:
                attachment.message = message
            message._parley_attachments = attachments
        update_fields = ["last_seq"]
        if stored_kind != Message.Kind.NOTE:
            locked.last_message_at = message.created_at
            update_fields.append("last_message_at")
            if author_type == Message.Author.OPERATOR and locked.first_reply_at is None:
                locked.first_reply_at = message.created_at
                update_fields.append("first_reply_at")
        locked.save(update_fields=update_fields)
        _publish_message(message)
    return message, True


@_in_tenant_scope
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


@_in_tenant_scope
def message_mark_read(*, tenant: Tenant, conversation: Conversation, side: Side, seq: int) -> None:
    """Record that `side` has read up to `seq`. Monotonic: a lower or equal seq changes nothing.

    The other side's messages up to `seq` get `read_at`; a `read` frame tells both sides.
    """
    _own(tenant, conversation)
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
        _on_commit(events.publish_read, tenant_id=tenant.pk, conversation_id=conversation.pk, side=side, seq=seq)


@_in_tenant_scope
def conversation_accept(*, tenant: Tenant, conversation: Conversation, membership: Membership) -> Conversation:
    """An operator takes a queued chat. Accepting one you already have is a no-op; someone else's is a Conflict."""
    _active_member(tenant, membership)
    with transaction.atomic():
        locked = _lock(tenant, conversation)
        if locked.is_closed:
            raise ConversationClosed()
        if locked.assignee_id == membership.pk and locked.status != Conversation.Status.QUEUED:
            return locked
        if locked.status != Conversation.Status.QUEUED:
            raise Conflict(_("Another operator already accepted this chat."))
        locked.assignee = membership
        locked.status = Conversation.Status.OPEN
        message = _system_message(tenant, locked, "accepted", name=operator_public_name(membership))
        locked.save(update_fields=["assignee", "status", "last_seq"])
        _publish_message(message)
        _on_commit(events.publish_conversation, locked, "assigned")
    return locked


@_in_tenant_scope
def conversation_assign(
    *, tenant: Tenant, conversation: Conversation, assignee: Membership, by: Membership | None = None
) -> Conversation:
    """Give the chat to `assignee` (an admin's or the router's decision)."""
    _active_member(tenant, assignee)
    if by is not None:
        _active_member(tenant, by)
    with transaction.atomic():
        locked = _lock(tenant, conversation)
        if locked.is_closed:
            raise ConversationClosed()
        if locked.assignee_id == assignee.pk and locked.status != Conversation.Status.QUEUED:
            return locked
        locked.assignee = assignee
        locked.status = Conversation.Status.OPEN
        message = _system_message(tenant, locked, "assigned", name=operator_public_name(assignee))
        locked.save(update_fields=["assignee", "status", "last_seq"])
        _publish_message(message)
        _on_commit(events.publish_conversation, locked, "assigned")
    return locked


@_in_tenant_scope
def conversation_transfer(
    *,
    tenant: Tenant,
    conversation: Conversation,
    by: Membership,
    to_membership: Membership | None = None,
    to_department: Department | None = None,
    note: str = "",
) -> Conversation:
    """Hand the chat to another operator (it stays open) or to a department (it goes back to the queue).

    The optional note becomes a private note by `by`; the visitor sees only who now handles the chat.
    """
    _active_member(tenant, by)
    if to_membership is None and to_department is None:
        raise BadInput(_("Choose an operator or a department."), field="to")
    if to_membership is not None:
        _active_member(tenant, to_membership)
    if to_department is not None:
        _own(tenant, to_department)
    note = _text(note, field="note", max_chars=BODY_MAX_CHARS, multiline=True)
    with transaction.atomic():
        locked = _lock(tenant, conversation)
        if locked.is_closed:
            raise ConversationClosed()
        update_fields = ["assignee", "status", "last_seq"]
        if to_department is not None:
            locked.department = to_department
            update_fields.append("department")
        if to_membership is not None:
            locked.assignee = to_membership
            locked.status = Conversation.Status.OPEN
            target, name = "operator", operator_public_name(to_membership)
        else:
            locked.assignee = None
            locked.status = Conversation.Status.QUEUED
            target, name = "department", to_department.name
        created = [_system_message(tenant, locked, "transferred", name=name, to=target)]
        if note:
            created.append(
                _append(
                    tenant,
                    locked,
                    author_type=Message.Author.OPERATOR,
                    author=by,
                    kind=Message.Kind.NOTE,
                    body=note,
                    client_id=f"{SERVER_CLIENT_ID_PREFIX}note-{locked.last_seq + 1}",
                )
            )
        locked.save(update_fields=update_fields)
        for message in created:
            _publish_message(message)
        _on_commit(events.publish_conversation, locked, "transferred")
    return locked


@_in_tenant_scope
def conversation_close(*, tenant: Tenant, conversation: Conversation, by: Membership | None = None) -> Conversation:
    """Close the chat (by an operator, or by the visitor/system when `by` is None). Closing twice is a no-op."""
    if by is not None:
        _active_member(tenant, by)
    with transaction.atomic():
        locked = _lock(tenant, conversation)
        if locked.is_closed:
            return locked
        locked.status = Conversation.Status.CLOSED
        locked.closed_at = timezone.now()
        message = _system_message(tenant, locked, "closed", name=operator_public_name(by) if by else "")
        locked.save(update_fields=["status", "closed_at", "last_seq"])
        _publish_message(message)
        _on_commit(events.publish_conversation, locked, "closed")
    return locked


@_in_tenant_scope
def conversation_reopen(*, tenant: Tenant, conversation: Conversation, by: Membership | None = None) -> Conversation:
    """Reopen a closed chat: open again with its operator, or back in the queue without one."""
    if by is not None:
        _active_member(tenant, by)
    with transaction.atomic():
        locked = _lock(tenant, conversation)
        if not locked.is_closed:
            return locked
        locked.status = Conversation.Status.OPEN if locked.assignee_id else Conversation.Status.QUEUED
        locked.closed_at = None
        message = _system_message(tenant, locked, "reopened", name=operator_public_name(by) if by else "")
        locked.save(update_fields=["status", "closed_at", "last_seq"])
        _publish_message(message)
        _on_commit(events.publish_conversation, locked, "reopened")
    return locked


@_in_tenant_scope
def conversation_rate(*, tenant: Tenant, conversation: Conversation, rating: str, comment: str = "") -> Conversation:
    """The visitor's verdict; rating again replaces the previous one."""
    if rating not in Conversation.Rating.values:
        raise BadInput(_("rating must be good or bad."), field="rating")
    comment = _text(comment, field="comment", max_chars=2000, multiline=True)
    with transaction.atomic():
        locked = _lock(tenant, conversation)
        if locked.rating == rating and locked.rating_comment == comment:
            return locked
        locked.rating = rating
        locked.rating_comment = comment
        message = _system_message(tenant, locked, "rated", rating=rating)
        locked.save(update_fields=["rating", "rating_comment", "last_seq"])
        _publish_message(message)
        _on_commit(events.publish_conversation, locked, "rated")
    return locked


# --- attachments ------------------------------------------------------------------------------

# Beyond this an image is a decompression bomb for whoever displays it.
IMAGE_MAX_PIXELS = 50_000_000
IMAGE_MAX_SIDE = 20_000
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
ZIP_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "zip": "application/zip",
}
OLE_TYPES = {"doc": "application/msword", "xls": "application/vnd.ms-excel", "ppt": "application/vnd.ms-powerpoint"}
TEXT_TYPES = {"txt": "text/plain", "csv": "text/csv"}


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


def _sniff(head: bytes, extension: str, file: UploadedFile) -> tuple[str, int | None, int | None]:
    """Decide the real type from the content; the client's content_type is ignored.

    Returns (content_type, width, height) or raises AttachmentTypeRefused.
    """
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return _verify_image(file)
    if head.startswith(b"%PDF-"):
        return "application/pdf", None, None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP_TYPES.get(extension, "application/zip"), None, None
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") and extension in OLE_TYPES:
        return OLE_TYPES[extension], None, None
    if extension in TEXT_TYPES:
        charset = _text_charset(file)
        if charset is not None:
            return TEXT_TYPES[extension] + (f"; charset={charset}" if charset else ""), None, None
    raise AttachmentTypeRefused()


def _verify_image(file: UploadedFile) -> tuple[str, int, int]:
    from PIL import Image

    try:
        file.seek(0)
        with Image.open(file) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except Exception as exc:  # any decoder error, truncation or decompression bomb
        raise AttachmentTypeRefused(_("This image is damaged or not really an image.")) from exc
    if image_format not in IMAGE_TYPES:
        raise AttachmentTypeRefused()
    if width * height > IMAGE_MAX_PIXELS or max(width, height) > IMAGE_MAX_SIDE:
        raise AttachmentTypeRefused(_("This image is too large to display."))
    return IMAGE_TYPES[image_format], width, height


def _text_charset(file: UploadedFile) -> str | None:
    """`"utf-8"` or `""` (some other 8-bit text, e.g. a spreadsheet's CSV export) for text; None for binary.

    A NUL byte means binary (or UTF-16, which chat users rarely send and browsers mislabel).
    """
    file.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    for chunk in file.chunks(64 * 1024):
        if b"\x00" in chunk:
            return None
        if utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return "utf-8" if utf8 else ""


@_in_tenant_scope
def attachment_upload(
    *,
    tenant: Tenant,
    conversation: Conversation,
    file: UploadedFile,
    uploader_side: Side,
) -> Attachment:
    """Check and store an uploaded file; it is sent later with `message_send(attachment_tokens=[token])`."""
    _own(tenant, conversation)
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
    content_type, width, height = _sniff(head, extension, file)
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
