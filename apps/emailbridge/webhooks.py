"""Hosted providers' inbound webhooks (django-anymail) into the same service as Parley's SMTP server.

Anymail checks each provider's signature (Mailgun's HMAC over timestamp and token; basic
auth with `ANYMAIL_WEBHOOK_SECRET` for Postmark and Amazon SES, whose SNS messages are
also verified against Amazon's signing certificate in `sns.py`) and sends the `inbound`
signal; the receiver here recovers the original MIME where the provider sends it and
calls `inbound_email_receive`. A provider that is not configured answers 404.
"""

from __future__ import annotations

import base64
import io
import logging

from anymail.signals import inbound
from django.conf import settings
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.emailbridge import addressing
from apps.emailbridge.errors import EmailTooLarge, UnknownRecipient
from apps.emailbridge.models import InboundEmail, email_max_bytes
from apps.emailbridge.selectors import tenant_for_recipient
from apps.emailbridge.services import inbound_email_receive

logger = logging.getLogger(__name__)

SOURCES = {
    "Mailgun": InboundEmail.Source.MAILGUN,
    "Postmark": InboundEmail.Source.POSTMARK,
    "Amazon SES": InboundEmail.Source.AMAZON_SES,
}


def _original_mime(event, esp_name: str) -> bytes:
    """The bytes the provider received, when its payload carries them; else anymail's rebuilt message."""
    esp_event = event.esp_event
    try:
        if esp_name == "Mailgun" and "body-mime" in esp_event.POST:
            return esp_event.POST["body-mime"].encode("utf-8", "surrogateescape")
        if esp_name == "Postmark" and isinstance(esp_event, dict) and esp_event.get("RawEmail"):
            return str(esp_event["RawEmail"]).encode("utf-8", "surrogateescape")
        if esp_name == "Amazon SES" and isinstance(esp_event, dict) and esp_event.get("content"):
            action = esp_event.get("receipt", {}).get("action", {})
            content = esp_event["content"]
            if str(action.get("encoding", "")).upper() == "BASE64":
                return base64.b64decode(content)
            return str(content).encode("utf-8", "surrogateescape")
    except Exception:
        logger.warning("could not read the original MIME from a %s webhook; using the parsed message", esp_name)
    try:
        return event.message.as_bytes()
    except Exception:
        return event.message.as_string().encode("utf-8", "surrogateescape")


def _recipients(event) -> list[str]:
    message = event.message
    candidates = []
    envelope = getattr(message, "envelope_recipient", None) or ""
    candidates += [part.strip() for part in str(envelope).split(",") if part.strip()]
    esp_event = event.esp_event
    if isinstance(esp_event, dict):  # Amazon SES lists every matched recipient
        recipients = esp_event.get("receipt", {}).get("recipients") or []
        candidates += [str(r) for r in recipients if isinstance(r, str)]
    for header in ("Delivered-To", "X-Original-To", "To", "Cc"):
        for value in message.get_all(header, []) or []:
            candidates += [address for _, address in _getaddresses(str(value))]
    return [c for c in dict.fromkeys(a.lower() for a in candidates) if c.endswith("@" + addressing.inbound_domain())]


def _getaddresses(value: str) -> list[tuple[str, str]]:
    import email.utils

    try:
        return email.utils.getaddresses([value])
    except Exception:
        return []


@receiver(inbound, dispatch_uid="parley.emailbridge.inbound")
def receive_from_provider(sender, event, esp_name, **kwargs) -> None:
    """Store the mail for each tenant it is addressed to; an unknown address is logged and dropped."""
    source = SOURCES.get(esp_name)
    if source is None:
        logger.warning("inbound email from unsupported provider %s ignored", esp_name)
        return
    raw = _original_mime(event, esp_name)
    envelope_from = getattr(event.message, "envelope_sender", None)
    seen_tenants = set()
    for recipient in _recipients(event):
        tenant = tenant_for_recipient(recipient)
        if tenant is None or tenant.pk in seen_tenants:
            continue
        seen_tenants.add(tenant.pk)
        try:
            inbound_email_receive(
                raw=raw, recipient=recipient, envelope_from=envelope_from, source=source, tenant=tenant
            )
        except EmailTooLarge:
            logger.warning("inbound email over %s bytes from %s refused", email_max_bytes(), esp_name)
            return
    if not seen_tenants:
        logger.info("inbound email from %s for no known address: %s", esp_name, UnknownRecipient.default_message)


# --- views --------------------------------------------------------------------------------------


def _configured(provider: str) -> bool:
    anymail = getattr(settings, "ANYMAIL", {})
    if provider == "mailgun":
        return bool(anymail.get("MAILGUN_WEBHOOK_SIGNING_KEY"))
    # Postmark and SES authenticate with basic auth only: without a secret, the endpoint is off.
    return bool(anymail.get("WEBHOOK_SECRET"))


def provider_view(provider: str):
    def view_class():
        if provider == "mailgun":
            from anymail.webhooks.mailgun import MailgunInboundWebhookView

            return MailgunInboundWebhookView
        if provider == "postmark":
            from anymail.webhooks.postmark import PostmarkInboundWebhookView

            return PostmarkInboundWebhookView
        from apps.emailbridge.sns import VerifiedAmazonSESInboundWebhookView

        return VerifiedAmazonSESInboundWebhookView

    @csrf_exempt
    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not _configured(provider):
            raise Http404()
        length = request.META.get("CONTENT_LENGTH") or "0"
        # Base64 and form encoding make a message up to about 1.4 times larger on the wire.
        if not length.isdigit() or int(length) > email_max_bytes() * 1.4 + 64 * 1024:
            return HttpResponse(status=413)
        if not hasattr(request, "_body"):
            # Read the body under our own bound instead of DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), so
            # JSON payloads (Postmark, SES) carry mail up to PARLEY_EMAIL_MAX_BYTES. Django's
            # multipart parser still applies its own limit to a single form field (Mailgun's body-mime).
            request._body = request.read(int(length))
            request._stream = io.BytesIO(request._body)
        return view_class().as_view()(request, *args, **kwargs)

    return view
