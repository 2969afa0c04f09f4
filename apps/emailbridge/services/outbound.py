"""Outbound mail: an operator's reply in an email conversation, a new email to a visitor, acknowledgements.

An `OutboundEmail` row is written in the same transaction as the message it carries, with
its Message-ID fixed, and the Celery task `emailbridge.send` sends it after the commit
(retries with backoff; a retry is the same mail). Every mail carries:
- Message-ID: signed, so the customer's reply threads and our own mail coming back is a loop;
- In-Reply-To / References: the conversation's mail so far (the customer's and ours);
- Reply-To: the conversation's signed reply address, and a signed marker at the end of the
  text, for providers that rewrite headers;
- Auto-Submitted: auto-replied on automatic mail (acknowledgements) only.
The state (`queued`, `sent`, `failed`) is kept on the row and mirrored on the message's
`data["email_delivery"]`, which the dashboard shows; each change reaches open dashboards as an
`email.status` frame on the tenant's operators' group (docs/protocol.md).
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Membership, Tenant
from apps.conversations import selectors as conversation_selectors
from apps.conversations import services as conversation_services
from apps.conversations.errors import BadInput, NotFound
from apps.conversations.events import frame_published, ops_group
from apps.conversations.models import Attachment, Conversation, Message, Visitor
from apps.core.tenancy import tenant_scope
from apps.emailbridge import addressing
from apps.emailbridge.errors import HeaderInjection
from apps.emailbridge.models import InboundEmail, OutboundEmail
from apps.emailbridge.selectors import email_settings_for

logger = logging.getLogger(__name__)

MAX_REFERENCES = 20
_LINE_BREAK = re.compile(r"[\r\n\x00]")
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|odp|ответ)\s*:", re.IGNORECASE)
Status = OutboundEmail.Status


def header_text(value: str, *, field: str, max_chars: int = 300) -> str:
    """An operator-typed value bound for a mail header: line breaks are refused, never stripped."""
    if not isinstance(value, str):
        raise BadInput(_("This field must be text."), field=field)
    if _LINE_BREAK.search(value):
        raise HeaderInjection(field=field)
    value = " ".join(value.split())
    if len(value) > max_chars:
        raise BadInput(_("This field is too long (at most %(max)s characters).") % {"max": max_chars}, field=field)
    return value


def email_address(value: str, *, field: str = "to") -> str:
    value = header_text(value, field=field, max_chars=254).lower()
    try:
        validate_email(value)
    except DjangoValidationError:
        raise BadInput(_("Enter a valid email address."), field=field) from None
    return value


def sender_address(tenant: Tenant) -> str:
    name = email_settings_for(tenant).from_name or tenant.name
    address = parseaddr(settings.PARLEY_EMAIL_FROM_ADDRESS or settings.DEFAULT_FROM_EMAIL)[1]
    return formataddr((" ".join(_LINE_BREAK.sub(" ", name).split()), address))


def reply_subject(subject: str) -> str:
    subject = " ".join(_LINE_BREAK.sub(" ", subject or "").split())
    if not subject:
        return ""
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def _thread_ids(tenant: Tenant, conversation: Conversation) -> tuple[str, list[str]]:
    """(In-Reply-To, References) for the next mail of the conversation, without angle brackets."""
    inbound = list(
        InboundEmail.objects.filter(tenant=tenant, conversation=conversation)
        .exclude(message_id="")
        .order_by("received_at")
        .values_list("received_at", "message_id")
    )
    outbound = list(
        OutboundEmail.objects.filter(tenant=tenant, conversation=conversation)
        .order_by("created_at")
        .values_list("created_at", "message_id")
    )
    chain = [message_id for _, message_id in sorted(inbound + outbound)]
    chain = list(dict.fromkeys(chain))[-MAX_REFERENCES:]
    in_reply_to = inbound[-1][1] if inbound else (chain[-1] if chain else "")
    return in_reply_to, chain


def _queue(
    tenant: Tenant,
    conversation: Conversation,
    *,
    to: str,
    subject: str,
    body: str,
    kind: str,
    message: Message | None,
) -> OutboundEmail:
    in_reply_to, references = _thread_ids(tenant, conversation)
    outbound = OutboundEmail.objects.create(
        tenant=tenant,
        conversation=conversation,
        chat_message=message,
        kind=kind,
        to_address=to,
        subject=subject[:300],
        body=body,
        message_id=addressing.new_message_id(tenant.pk, conversation.pk),
        in_reply_to=in_reply_to,
        references=" ".join(references),
    )
    if message is not None:
        _mirror_status(tenant, outbound)
    from apps.emailbridge.tasks import email_send

    email_send.delay(tenant.pk, outbound.pk)  # on commit (TransactionAwareTask)
    return outbound


def _mirror_status(tenant: Tenant, outbound: OutboundEmail) -> None:
    """The delivery state on the message itself, where the dashboard reads it."""
    if outbound.chat_message_id is None:
        return
    state = {"status": outbound.status, "to": outbound.to_address}
    if outbound.status == Status.FAILED:
        state["error"] = outbound.error[:300]
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(tenant=tenant, pk=outbound.chat_message_id).first()
        if message is None:
            return
        message.data = {**(message.data or {}), "email_delivery": state}
        message.save(update_fields=["data"])
        frame = {
            "type": "email.status",
            "conversation": message.conversation_id,
            "message": message.pk,
            "seq": message.seq,
            "email_delivery": state,
        }
        frame_published(ops_group(tenant.pk), frame)  # on commit (events register themselves)


def _text_with_marker(tenant: Tenant, conversation: Conversation, text: str, signature: str) -> str:
    parts = [text.rstrip()]
    if signature:
        parts.append(f"-- \n{signature}")
    parts.append(addressing.body_marker(tenant.pk, conversation.pk))
    return "\n\n".join(parts) + "\n"


def _operator_signature(tenant: Tenant, author: Membership | None) -> str:
    name = author.name_for_visitors if author is not None else ""
    company = email_settings_for(tenant).from_name or tenant.name
    return "\n".join(line for line in (name, company) if line)


def email_reply_queue(*, tenant: Tenant, message: Message) -> OutboundEmail | None:
    """Mail an operator's public message in an email conversation to the visitor. Call inside its transaction.

    Private notes, system lines and visitor messages never leave; a visitor without an email
    address gets nothing (the message stays in the chat).
    """
    if message.tenant_id != tenant.pk:
        raise NotFound()
    if message.author_type != Message.Author.OPERATOR or message.kind not in (
        Message.Kind.TEXT,
        Message.Kind.ATTACHMENT,
    ):
        return None
    with tenant_scope(tenant):
        conversation = (
            Conversation.objects.select_related("visitor").filter(tenant=tenant, pk=message.conversation_id).first()
        )
        if conversation is None or conversation.channel != Conversation.Channel.EMAIL:
            return None
        to = conversation.visitor.email
        if not to:
            return None
        if OutboundEmail.objects.filter(tenant=tenant, chat_message=message).exists():
            return None
        body = _text_with_marker(tenant, conversation, message.body, _operator_signature(tenant, message.author))
        started_by_us = not (
            InboundEmail.objects.filter(tenant=tenant, conversation=conversation).exists()
            or OutboundEmail.objects.filter(tenant=tenant, conversation=conversation).exists()
        )
        subject = (conversation.subject if started_by_us else reply_subject(conversation.subject)) or gettext(
            "Your conversation with %(company)s"
        ) % {"company": tenant.name}
        return _queue(
            tenant, conversation, to=to, subject=subject, body=body, kind=OutboundEmail.Kind.REPLY, message=message
        )


def email_conversation_start(
    *,
    tenant: Tenant,
    visitor: Visitor,
    by: Membership,
    subject: str,
    body: str,
    to: str = "",
    files: list = (),
) -> tuple[Conversation, Message]:
    """An operator emails a visitor (who may have left the site long ago), with attachments.

    A new email conversation holds the message; the mail goes out through the same path as
    any reply, so the visitor's answer threads back into it.
    """
    if not isinstance(visitor, Visitor) or visitor.tenant_id != tenant.pk:
        raise NotFound()
    if not isinstance(by, Membership) or by.tenant_id != tenant.pk or not by.is_active:
        raise NotFound()
    subject = header_text(subject, field="subject")
    if not subject:
        raise BadInput(_("This field is required."), field="subject")
    address = email_address(to or visitor.email or "", field="to")
    with tenant_scope(tenant), transaction.atomic():
        if address != visitor.email:
            visitor = conversation_services.visitor_update(tenant=tenant, visitor=visitor, email=address)
        conversation = conversation_services.conversation_start(
            tenant=tenant, visitor=visitor, channel=Conversation.Channel.EMAIL, subject=subject
        )
        conversation = conversation_services.conversation_assign(
            tenant=tenant, conversation=conversation, assignee=by, by=by
        )
        tokens = [
            conversation_services.attachment_upload(
                tenant=tenant, conversation=conversation, file=file, uploader_side="operator"
            ).token
            for file in files
        ]
        message, _created = conversation_services.message_send(
            tenant=tenant,
            conversation=conversation,
            author_type=Message.Author.OPERATOR,
            author=by,
            body=body,
            client_id=f"email-start-{conversation.pk}",
            attachment_tokens=tokens,
        )
    return conversation, message


ACKNOWLEDGEMENT = _(
    "Hello,\n\nwe have received your message and will answer as soon as we can. "
    "Reply to this email to add anything.\n\n%(company)s"
)


def acknowledgement_queue(*, tenant: Tenant, conversation: Conversation, inbound: InboundEmail) -> OutboundEmail | None:
    """The tenant's automatic "we got it" (Auto-Submitted: auto-replied). Only for mail a person wrote."""
    to = inbound.from_address
    if not to:
        return None
    with translation.override(tenant.default_language or settings.LANGUAGE_CODE):
        body = str(ACKNOWLEDGEMENT) % {"company": email_settings_for(tenant).from_name or tenant.name}
    body = _text_with_marker(tenant, conversation, body, "")
    subject = reply_subject(inbound.subject) or tenant.name
    return _queue(
        tenant, conversation, to=to, subject=subject, body=body, kind=OutboundEmail.Kind.ACKNOWLEDGEMENT, message=None
    )


def transcript_queue(*, tenant: Tenant, conversation: Conversation, to: str, subject: str, body: str) -> OutboundEmail:
    """A chat transcript the visitor asked for, through the same sender as every conversation mail.

    It carries the conversation's signed Message-ID and Reply-To, so the visitor's answer to it
    comes back into this conversation; retries, failure and loop safety are the reply's.
    """
    if conversation.tenant_id != tenant.pk:
        raise NotFound()
    to = email_address(to, field="email")
    subject = header_text(subject, field="subject")
    with transaction.atomic():
        return _queue(
            tenant, conversation, to=to, subject=subject, body=body, kind=OutboundEmail.Kind.TRANSCRIPT, message=None
        )


def _angle(ids: str) -> str:
    return " ".join(f"<{value}>" for value in ids.split() if value)


def build_email(tenant: Tenant, outbound: OutboundEmail) -> EmailMessage:
    headers = {
        "Message-ID": f"<{outbound.message_id}>",
        "Reply-To": addressing.reply_address(tenant.pk, outbound.conversation_id),
        "X-Parley-Loop": str(tenant.pk),
    }
    if outbound.in_reply_to:
        headers["In-Reply-To"] = f"<{outbound.in_reply_to}>"
    if outbound.references:
        headers["References"] = _angle(outbound.references)
    if outbound.kind == OutboundEmail.Kind.ACKNOWLEDGEMENT:
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
    mail = EmailMessage(
        subject=outbound.subject,
        body=outbound.body,
        from_email=sender_address(tenant),
        to=[outbound.to_address],
        headers=headers,
    )
    if outbound.chat_message_id is not None:
        for attachment in Attachment.objects.filter(tenant=tenant, message_id=outbound.chat_message_id).order_by("pk"):
            with attachment.file.open("rb") as handle:
                mail.attach(attachment.filename, handle.read(), attachment.content_type.split(";")[0])
    return mail


def outbound_email_send(*, tenant: Tenant, outbound: OutboundEmail) -> OutboundEmail:
    """Send a queued mail once. Transport errors propagate (the task retries); a sent mail is never sent again."""
    with tenant_scope(tenant):
        with transaction.atomic():
            row = OutboundEmail.objects.select_for_update().filter(tenant=tenant, pk=outbound.pk).first()
            if row is None:
                raise NotFound()
            if row.status == Status.SENT:
                return row
            row.attempts += 1
            row.save(update_fields=["attempts"])
        build_email(tenant, row).send(fail_silently=False)
        row.status, row.sent_at, row.error = Status.SENT, timezone.now(), ""
        row.save(update_fields=["status", "sent_at", "error"])
        _mirror_status(tenant, row)
    return row


def outbound_email_fail(*, tenant: Tenant, outbound: OutboundEmail, error: str) -> OutboundEmail:
    """Give up on a mail after its last retry: the message shows it as not delivered."""
    with tenant_scope(tenant):
        OutboundEmail.objects.filter(tenant=tenant, pk=outbound.pk).exclude(status=Status.SENT).update(
            status=Status.FAILED, error=error[:2000]
        )
        row = OutboundEmail.objects.get(tenant=tenant, pk=outbound.pk)
        _mirror_status(tenant, row)
    return row


SWEEP_AFTER = timedelta(seconds=30)
SWEEP_WINDOW = timedelta(hours=1)


def outbound_emails_sweep(*, now=None) -> int:
    """Queue the mail of operator messages in email conversations that no hook queued; the number queued.

    The `post_save` receiver queues in the message's own transaction; a write path that
    sends no signal (a raw INSERT) would leave a reply unsent. Beat runs this every minute
    over the last hour, for messages older than 30 seconds (so never racing their commit).
    """
    now = now or timezone.now()
    missing = conversation_selectors.operator_replies_unsent(
        channel=Conversation.Channel.EMAIL, outbound_model=OutboundEmail,
        now=now, after=SWEEP_AFTER, window=SWEEP_WINDOW,
    )
    count = 0
    for message in missing:
        with transaction.atomic():
            if email_reply_queue(tenant=message.tenant, message=message) is not None:
                count += 1
    return count
