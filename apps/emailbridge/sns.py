"""Amazon SNS message signatures, which anymail does not check (its SES webhook relies on basic auth).

Each SNS message names the certificate it was signed with (`SigningCertURL`); only
certificates from Amazon's SNS hosts (PARLEY_SNS_CERT_URL_PATTERN) are fetched, over
HTTPS, and cached. Signature version 1 is RSA with SHA-1, version 2 RSA with SHA-256,
over the fields listed in Amazon's documentation ("Verifying the signatures of Amazon
SNS messages"). PARLEY_SNS_TOPIC_ARNS, when set, also pins the topics accepted.
"""

from __future__ import annotations

import base64
import re

import requests
from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.core.cache import cache

NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
CERT_CACHE_SECONDS = 24 * 3600


def string_to_sign(message: dict) -> bytes:
    fields = NOTIFICATION_FIELDS if message.get("Type") == "Notification" else SUBSCRIPTION_FIELDS
    lines = []
    for name in fields:
        if name == "Subject" and message.get("Subject") is None:
            continue
        lines.append(f"{name}\n{message.get(name, '')}\n")
    return "".join(lines).encode("utf-8")


def _certificate(url: str) -> x509.Certificate:
    if not re.match(settings.PARLEY_SNS_CERT_URL_PATTERN, url or ""):
        raise AnymailWebhookValidationFailure("SNS SigningCertURL is not an Amazon SNS certificate URL")
    key = "sns-cert:" + base64.urlsafe_b64encode(url.encode()).decode()[:200]
    pem = cache.get(key)
    if pem is None:
        try:
            response = requests.get(url, timeout=5)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise AnymailWebhookValidationFailure("SNS signing certificate could not be fetched") from exc
        pem = response.content
        cache.set(key, pem, CERT_CACHE_SECONDS)
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise AnymailWebhookValidationFailure("SNS signing certificate is not a certificate") from exc


def verify_sns_message(message: dict) -> None:
    """Raise `AnymailWebhookValidationFailure` unless Amazon SNS signed exactly this message."""
    version = str(message.get("SignatureVersion", ""))
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)  # noqa: S303 - SNS v1 is SHA-1 by spec
    if algorithm is None:
        raise AnymailWebhookValidationFailure("SNS message has no supported SignatureVersion")
    topics = settings.PARLEY_SNS_TOPIC_ARNS
    if topics and message.get("TopicArn") not in topics:
        raise AnymailWebhookValidationFailure("SNS message is from a topic that is not configured")
    try:
        signature = base64.b64decode(message.get("Signature", ""), validate=True)
    except (ValueError, TypeError) as exc:
        raise AnymailWebhookValidationFailure("SNS signature is not base64") from exc
    certificate = _certificate(str(message.get("SigningCertURL", "")))
    try:
        certificate.public_key().verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm)
    except (InvalidSignature, TypeError, ValueError) as exc:
        raise AnymailWebhookValidationFailure("SNS signature does not match") from exc


class VerifiedAmazonSESInboundWebhookView(AmazonSESInboundWebhookView):
    """Anymail's SES inbound view, plus the SNS signature check."""

    def validate_request(self, request):
        super().validate_request(request)
        verify_sns_message(self._parse_sns_message(request))
