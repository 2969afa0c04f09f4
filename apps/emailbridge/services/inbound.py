"""Inbound mail: stored raw first, then parsed, checked, filtered and threaded by a task.

`inbound_email_receive` is the one entry for the SMTP server and every provider webhook:
it writes the raw bytes to storage and the row in one step and enqueues the parse on
commit. `inbound_email_process` does everything else and never loses the row: an error
marks it `failed` with the reason, and `inbound_email_rerun` tries again after a fix. A
worker killed mid-parse leaves it `received`, and the sweeper enqueues it again.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Membership, Tenant
from apps.conversations.errors import BadInput
from apps.core.ratelimit import rate_limit_exceeded
from apps.core.tenancy import scopes_disabled, tenant_scope
from apps.emailbridge import safety
from apps.emailbridge.errors import EmailTooLarge, UnknownRecipient
from apps.emailbridge.models import InboundEmail, email_max_bytes
from apps.emailbridge.parsing import ParsedEmail, dedup_key, parse_email
from apps.emailbridge.selectors import email_settings_for, tenant_for_recipient
from apps.emailbridge.services import delivery

logger = logging.getLogger(__name__)

# A row still `received` this long after arriving lost its worker: the sweeper enqueues it again.
STUCK_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 5
Status = InboundEmail.Status


def inbound_email_receive(
    *, raw: bytes, recipient: str, envelope_from: str | None, source: str, tenant: Tenant | None = None
) -> InboundEmail:
    """Store one message for the tenant that owns `recipient`, and enqueue its parsing.

    `envelope_from` is the SMTP MAIL FROM ("" for the null sender of bounces; None when a
    provider does not say). Raises `UnknownRecipient` or `EmailTooLarge`, storing nothing.
    """
    if not isinstance(raw, bytes | bytearray):
        raise BadInput("raw must be bytes", field="raw")
    if tenant is None:
        tenant = tenant_for_recipient(recipient)
    if tenant is None or not tenant.is_active:
        raise UnknownRecipient()
    if len(raw) > email_max_bytes():
        raise EmailTooLarge()
    if source not in InboundEmail.Source.values:
        raise BadInput("unknown source", field="source")
    status, flags = Status.RECEIVED, []
    limit = email_settings_for(tenant).inbound_per_hour
    if rate_limit_exceeded(f"email-inbound:{tenant.pk}", limit=limit, period=3600):
        status, flags = Status.HELD, [safety.RATE_LIMITED]
    with tenant_scope(tenant), transaction.atomic():
        row = InboundEmail(
            tenant=tenant,
            token=secrets.token_hex(16),
            source=source,
            raw_size=len(raw),
            envelope_from=(envelope_from or "")[:320],
            envelope_to=(recipient or "")[:320],
            status=status,
            flags=flags,
        )
        row.raw.save(f"{row.token}.eml", ContentFile(bytes(raw)), save=False)
        try:
            row.save(force_insert=True)
        except Exception:
            row.raw.delete(save=False)
            raise
        if status == Status.RECEIVED:
            _enqueue_parse(tenant, row)
    return row


def _enqueue_parse(tenant: Tenant, row: InboundEmail) -> None:
    from apps.emailbridge.tasks import email_parse

    tenant_id, row_id = tenant.pk, row.pk
    transaction.on_commit(lambda: email_parse.delay(tenant_id, row_id), robust=True)


def _read_raw(row: InboundEmail) -> bytes:
    with row.raw.open("rb") as handle:
        return handle.read()


def _apply_parsed(row: InboundEmail, parsed: ParsedEmail, raw: bytes) -> None:
    row.message_id = parsed.message_id[:998]
    row.dedup_key = dedup_key(parsed.message_id, raw)
    row.subject = parsed.subject[:300]
    row.from_address = parsed.from_address[:320]
    row.from_name = parsed.from_name[:200]
    row.to = ", ".join(address for _, address in parsed.to)
    row.cc = ", ".join(address for _, address in parsed.cc)
    row.sent_at = parsed.date
    row.text = parsed.text
    row.display_text = parsed.display_text
    row.html = parsed.html
    row.parsed_at = timezone.now()


def _matches_filter(words: list[str], parsed: ParsedEmail) -> bool:
    if not words:
        return True
    haystack = f"{parsed.subject}\n{parsed.text}".casefold()
    return any(word in haystack for word in words)


def _process(tenant: Tenant, row: InboundEmail, *, promote: bool) -> None:
    """Parse and route one locked row; sets its status. Call inside a transaction."""
    raw = _read_raw(row)
    parsed = parse_email(raw)
    _apply_parsed(row, parsed, raw)
    settings_row = email_settings_for(tenant)
    listing = delivery.attachment_listing(parsed, settings_row.attachment_max_bytes)
    row.attachments = listing
    flags = [f for f in row.flags if f == safety.RATE_LIMITED] + safety.classify(
        parsed, envelope_from=row.envelope_from if row.source == InboundEmail.Source.SMTP else None
    )
    row.flags = list(dict.fromkeys(flags))
    row.error = ""

    earlier = (
        InboundEmail.objects.filter(tenant=tenant, dedup_key=row.dedup_key, status=Status.DELIVERED)
        .exclude(pk=row.pk)
        .first()
    )
    if earlier is not None:
        row.status, row.conversation_id = Status.DUPLICATE, earlier.conversation_id
        return
    if not promote:
        if safety.NOT_A_CONVERSATION.intersection(row.flags):
            row.status = Status.IGNORED
            return
        conversation, _ = delivery.find_conversation(tenant, row, parsed)
        if conversation is None and not _matches_filter(settings_row.words, parsed):
            row.status = Status.FILTERED
            row.flags = [*row.flags, safety.FILTERED]
            return
    conversation, message, created = delivery.deliver(tenant, row, parsed, settings_row, listing)
    row.status = Status.DELIVERED
    row.conversation = conversation
    row.chat_message = message
    if created and settings_row.auto_acknowledge and not safety.never_answer(row.flags, parsed):
        from apps.emailbridge.services.outbound import acknowledgement_queue

        acknowledgement_queue(tenant=tenant, conversation=conversation, inbound=row)


def _run(tenant: Tenant, inbound: InboundEmail, *, allowed: set[str], promote: bool = False) -> InboundEmail:
    with tenant_scope(tenant):
        with transaction.atomic():
            row = InboundEmail.objects.select_for_update().filter(pk=inbound.pk, tenant=tenant).first()
            if row is None:
                from apps.conversations.errors import NotFound

                raise NotFound()
            if row.status not in allowed:
                return row
            row.attempts += 1
            row.save(update_fields=["attempts"])
        try:
            with transaction.atomic():
                row = InboundEmail.objects.select_for_update().get(pk=inbound.pk, tenant=tenant)
                if row.status not in allowed:  # another worker finished it meanwhile
                    return row
                _process(tenant, row, promote=promote)
                row.save()
        except Exception as exc:
            # Stored, flagged, visible to admins, re-runnable: never a lost message.
            logger.exception("inbound email %s failed to process", inbound.pk)
            InboundEmail.objects.filter(pk=inbound.pk, tenant=tenant).update(
                status=Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:4000]
            )
            row = InboundEmail.objects.get(pk=inbound.pk, tenant=tenant)
    return row


def inbound_email_process(*, tenant: Tenant, inbound: InboundEmail) -> InboundEmail:
    """Parse, check, filter and thread a `received` message. Idempotent: any other status is left alone."""
    return _run(tenant, inbound, allowed={Status.RECEIVED})


def inbound_email_rerun(*, tenant: Tenant, inbound: InboundEmail) -> InboundEmail:
    """Process a failed or held message again (after a fix, or once the rate limit has passed)."""
    return _run(tenant, inbound, allowed={Status.FAILED, Status.HELD, Status.RECEIVED})


def inbound_email_promote(*, tenant: Tenant, inbound: InboundEmail, by: Membership) -> InboundEmail:
    """An admin decides a filtered, ignored, held or failed message is a conversation after all."""
    if not isinstance(by, Membership) or by.tenant_id != tenant.pk or not by.is_active:
        from apps.conversations.errors import NotFound

        raise NotFound()
    return _run(tenant, inbound, allowed={Status.FILTERED, Status.IGNORED, Status.HELD, Status.FAILED}, promote=True)


def inbound_emails_sweep(*, now=None) -> int:
    """Enqueue again what a dead worker left `received`; give up (as `failed`) after repeated crashes."""
    now = now or timezone.now()
    count = 0
    with scopes_disabled():
        stuck = list(
            InboundEmail.objects.filter(status=Status.RECEIVED, received_at__lt=now - STUCK_AFTER)
            .select_related("tenant")
            .order_by("received_at")[:500]
        )
    for row in stuck:
        with tenant_scope(row.tenant):
            if row.attempts >= MAX_ATTEMPTS:
                InboundEmail.objects.filter(pk=row.pk, tenant=row.tenant, status=Status.RECEIVED).update(
                    status=Status.FAILED, error="gave up: the worker stopped during every attempt"
                )
                continue
            from apps.emailbridge.tasks import email_parse

            email_parse.delay(row.tenant_id, row.pk)
            count += 1
    return count
