"""Parley's own inbound SMTP server (aiosmtpd): what a team mailbox forwards to.

Refuses early and clearly, so the sending server (not Parley) keeps what Parley cannot take:
- RCPT TO an address that is no tenant's: `550 5.1.1`; another domain: `550 5.7.1` (no relaying);
- a message over PARLEY_EMAIL_MAX_BYTES: `552` at MAIL FROM when the client declares SIZE
  (advertised in EHLO), else at the end of DATA;
- a storage or database failure: `451 4.3.0`, so the sender retries later.
Accepted mail is stored raw by `inbound_email_receive` (once per tenant among the
recipients) before the `250` goes out; parsing happens in the worker.
"""

from __future__ import annotations

import logging

from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from apps.emailbridge import addressing
from apps.emailbridge.errors import EmailTooLarge, UnknownRecipient
from apps.emailbridge.models import InboundEmail, email_max_bytes
from apps.emailbridge.selectors import tenant_for_recipient
from apps.emailbridge.services import inbound_email_receive

logger = logging.getLogger(__name__)

MAX_RECIPIENTS = 50


def _accepting_tenant_id(address: str) -> int | None:
    close_old_connections()
    tenant = tenant_for_recipient(address)
    return tenant.pk if tenant is not None else None


def _store(raw: bytes, mail_from: str, recipients: list[str]) -> int:
    """Store the message once per tenant among the recipients; the number stored."""
    close_old_connections()
    stored, seen = 0, set()
    for recipient in recipients:
        tenant = tenant_for_recipient(recipient)
        if tenant is None or tenant.pk in seen:
            continue
        seen.add(tenant.pk)
        inbound_email_receive(
            raw=raw, recipient=recipient, envelope_from=mail_from, source=InboundEmail.Source.SMTP, tenant=tenant
        )
        stored += 1
    return stored


class InboundHandler:
    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options):
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        _, domain = addressing.split_address(address)
        if domain != addressing.inbound_domain():
            return "550 5.7.1 Relaying denied: this server only takes mail for its own addresses"
        try:
            tenant_id = await sync_to_async(_accepting_tenant_id, thread_sensitive=False)(address)
        except Exception:
            logger.exception("recipient lookup failed")
            return "451 4.3.0 Temporary failure, please try again later"
        if tenant_id is None:
            return f"550 5.1.1 <{address}>: {UnknownRecipient.default_message}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope):
        raw = envelope.original_content or (
            envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode("utf-8")
        )
        mail_from = envelope.mail_from or ""
        if mail_from == "<>":
            mail_from = ""
        try:
            stored = await sync_to_async(_store, thread_sensitive=False)(raw, mail_from, list(envelope.rcpt_tos))
        except EmailTooLarge:
            return EmailTooLarge.smtp_reply
        except Exception:
            logger.exception("storing inbound mail failed")
            return "451 4.3.0 Temporary failure, please try again later"
        if not stored:
            return f"550 5.1.1 {UnknownRecipient.default_message}"
        return "250 2.0.0 Message accepted for delivery"


def smtp_factory() -> SMTP:
    return SMTP(
        InboundHandler(),
        data_size_limit=email_max_bytes(),
        enable_SMTPUTF8=True,
        decode_data=False,
        ident="Parley",
        hostname=settings.PARLEY_INBOUND_DOMAIN,
    )
