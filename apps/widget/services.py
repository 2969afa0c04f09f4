"""The widget's own state changes, built on the conversation services.

Conversations, messages and ratings are written by `apps.conversations.services` only;
this module composes them for the visitor calls the conversation API does not cover
(the offline contact form) and sends the transcript email.
"""

from __future__ import annotations

import uuid
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.accounts.models import Tenant
from apps.conversations import services as conversation_services
from apps.conversations.frames import operator_public_name
from apps.conversations.models import Conversation, Message, Visitor
from apps.core.tenancy import tenant_scope
from apps.core.text import clean_text
from apps.emailbridge import services as emailbridge_services


def contact_message_submit(
    *,
    tenant: Tenant,
    anonymous_id: str | None,
    name: str,
    email: str,
    body: str,
    url: str = "",
    language: str = "",
    visitor: Visitor | None = None,
) -> Conversation:
    """The offline contact form: the visitor (found or created), their name and email, and a
    new conversation holding their message, all in one transaction.

    Operators see it in the queue like any chat and answer by email.
    """
    with transaction.atomic():
        if visitor is None:
            visitor = conversation_services.visitor_identify(
                tenant=tenant, anonymous_id=anonymous_id, name=name, language=language, url=url
            )
        visitor = conversation_services.visitor_update(tenant=tenant, visitor=visitor, name=name, email=email)
        # Through the one way in: conversation_start tells the visitor's open tabs to follow it.
        received = conversation_services.visitor_message_receive(
            tenant=tenant,
            visitor=visitor,
            client_id=f"contact-{uuid.uuid4().hex}",
            body=body,
            new_conversation=True,
            data={"source": "contact_form"},
        )
    return received.conversation


def _transcript_lines(tenant: Tenant, conversation: Conversation) -> list[dict]:
    with tenant_scope(tenant):
        messages = list(
            Message.objects.filter(tenant=tenant, conversation=conversation)
            .exclude(kind=Message.Kind.NOTE)
            .select_related("author__user")
            .order_by("seq")
        )
    try:
        zone = zoneinfo.ZoneInfo(tenant.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    lines = []
    for message in messages:
        if message.author_type == Message.Author.VISITOR:
            author = conversation.visitor.name or _("You")
        elif message.author_type == Message.Author.OPERATOR:
            author = operator_public_name(message.author)
        else:
            author = ""
        lines.append(
            {
                "time": timezone.localtime(message.created_at, zone).strftime("%Y-%m-%d %H:%M"),
                "author": author,
                "body": message.body,
                "system": message.author_type == Message.Author.SYSTEM,
            }
        )
    return lines


def transcript_email_send(*, tenant: Tenant, conversation_id: int, email: str, language: str = "") -> bool:
    """Email the visitor a plain-text transcript of their conversation (notes left out).

    Returns False when the conversation no longer exists for this tenant.
    """
    with tenant_scope(tenant):
        conversation = Conversation.objects.filter(pk=conversation_id, tenant=tenant).select_related("visitor").first()
    if conversation is None:
        return False
    language = language if language in dict(settings.LANGUAGES) else tenant.default_language
    with translation.override(language or settings.LANGUAGE_CODE):
        context = {
            "tenant": tenant,
            "conversation": conversation,
            "lines": _transcript_lines(tenant, conversation),
        }
        subject = clean_text(_("Your chat with %(company)s") % {"company": tenant.name}, multiline=False)
        body = render_to_string("widget/email/transcript.txt", context)
    # The conversation mail's sender: signed Message-ID and Reply-To (an answer comes back into
    # this conversation), retries with backoff, the delivery state kept (apps/emailbridge).
    emailbridge_services.transcript_queue(
        tenant=tenant, conversation=conversation, to=email, subject=subject[:300], body=body
    )
    return True
