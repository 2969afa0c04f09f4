"""Hosted providers' inbound webhooks (django-anymail) into the same service as Parley's SMTP server.

Anymail checks each provider's signature (Mailgun's HMAC over timestamp and token; basic
auth with `ANYMAIL_WEBHOOK_SECRET` for Postmark and Amazon SES, whose SNS messages are
also verified against Amazon's signing certificate in `sns.py`) and sends the `inbound`
signal; the receiver here recovers the original MIME where the provider sends it and
calls `inbound_email_receive`. A provider that is not configured answers 404.

Size: each view reads its body under the email limit (`webhookbody.py`), not Django's form
limit, so mail up to PARLEY_EMAIL_MAX_BYTES arrives through every provider; a body that
cannot carry a message that small, or a message over the limit (also one that Amazon SES left
in S3), is answered 413 `too_large` and nothing is stored.
"""

from __future__ import annotations

import base64
import logging

from anymail.signals import inbound
from django.conf import settings
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.core.http import error_response
from apps.emailbridge import addressing, webhookbody
from apps.emailbridge.errors import EmailFetchFailed, EmailTooLarge, UnknownRecipient
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
    original = getattr(event, "original_mime", None)  # Amazon SES's S3 object, as downloaded
    if original is not None:
        return original
    esp_event = event.esp_event
    try:
        if esp_name == "Mailgun" and "body-mime" in esp_event.POST:
            exact = getattr(esp_event, "form_field_bytes", {}).get("body-mime")
            return exact if exact is not None else esp_event.POST["body-mime"].encode("utf-8", "surrogateescape")
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
    """Store the mail for each tenant it is addressed to; an unknown address is logged and dropped.

    Raises `EmailTooLarge` for mail over the limit (the view answers 413), storing nothing.
    """
    source = SOURCES.get(esp_name)
    if source is None:
        logger.warning("inbound email from unsupported provider %s ignored", esp_name)
        return
    raw = _original_mime(event, esp_name)
    if len(raw) > email_max_bytes():
        logger.warning("inbound email of %s bytes (over %s) from %s refused", len(raw), email_max_bytes(), esp_name)
        raise EmailTooLarge()
    envelope_from = getattr(event.message, "envelope_sender", None)
    seen_tenants = set()
    for recipient in _recipients(event):
        tenant = tenant_for_recipient(recipient)
        if tenant is None or tenant.pk in seen_tenants:
            continue
        seen_tenants.add(tenant.pk)
        inbound_email_receive(raw=raw, recipient=recipient, envelope_from=envelope_from, source=source, tenant=tenant)
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
        if webhookbody.declared_too_large(request) or not webhookbody.read_bounded(request):
            return error_response(EmailTooLarge())
        try:
            return view_class().as_view()(request, *args, **kwargs)
        except (EmailTooLarge, EmailFetchFailed) as exc:
            return error_response(exc)

    return view
