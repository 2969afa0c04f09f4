"""Amazon SNS message signatures, which anymail does not check (its SES webhook relies on basic auth).

Each SNS message names the certificate it was signed with (`SigningCertURL`); only
certificates from Amazon's SNS hosts (PARLEY_SNS_CERT_URL_PATTERN) are fetched, over
HTTPS, and cached. Signature version 1 is RSA with SHA-1, version 2 RSA with SHA-256,
over the fields listed in Amazon's documentation ("Verifying the signatures of Amazon
SNS messages"). PARLEY_SNS_TOPIC_ARNS, when set, also pins the topics accepted.

A receipt rule with an S3 action sends only the bucket and key; the view downloads the
object with boto3 as anymail would (ANYMAIL's AMAZON_SES_SESSION_PARAMS /
AMAZON_SES_CLIENT_PARAMS, or the usual AWS environment), refuses it past
PARLEY_EMAIL_MAX_BYTES, and keeps the bytes it read, so the stored raw mail is exactly the
object in the bucket. An S3 error answers 502 (SNS delivers the notification again).
"""

from __future__ import annotations

import base64
import logging
import re

import requests
from anymail.exceptions import AnymailAPIError, AnymailWebhookValidationFailure
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView
from botocore.exceptions import BotoCoreError, ClientError
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.core.cache import cache

from apps.emailbridge.errors import EmailFetchFailed, EmailTooLarge
from apps.emailbridge.models import email_max_bytes

NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
CERT_CACHE_SECONDS = 24 * 3600

logger = logging.getLogger(__name__)


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
    """Anymail's SES inbound view, plus the SNS signature check and a bounded S3 download."""

    def validate_request(self, request):
        super().validate_request(request)
        verify_sns_message(self._parse_sns_message(request))

    def esp_to_anymail_events(self, ses_event, sns_message):
        self._s3_chunks = None
        events = super().esp_to_anymail_events(ses_event, sns_message)
        if self._s3_chunks is not None:
            for event in events:
                event.original_mime = b"".join(self._s3_chunks)
        return events

    def fetch_s3_chunks(self, bucket_name: str, object_key: str):
        """The S3 object's bytes, refused with `EmailTooLarge` past the limit (from its Content-Length, before
        downloading); any S3 error (missing object, no permission, S3 unreachable) is `EmailFetchFailed`.

        Objects that SES encrypted with KMS (ANYMAIL's AMAZON_SES_INBOUND_KMS_KEY_ID) go through anymail's own
        download, drained to the end: its generator cannot be closed early without the optional
        encryption client installed."""
        self._s3_chunks, limit = [], email_max_bytes()
        if self.kms_key_id:
            size = 0
            try:
                for chunk in super().fetch_s3_chunks(bucket_name, object_key):
                    size += len(chunk)
                    if size <= limit:
                        self._s3_chunks.append(chunk)
            except AnymailAPIError as exc:
                raise EmailFetchFailed() from exc
            if size > limit:
                raise EmailTooLarge()
            yield from self._s3_chunks
            return
        client = body = None
        try:
            client = self.get_boto_client("s3")
            response = client.get_object(Bucket=bucket_name, Key=object_key)
            body = response["Body"]
            if int(response.get("ContentLength") or 0) > limit:
                raise EmailTooLarge()
            size = 0
            for chunk in body.iter_chunks(self.chunk_size):
                size += len(chunk)
                if size > limit:
                    raise EmailTooLarge()
                self._s3_chunks.append(chunk)
                yield chunk
        except (ClientError, BotoCoreError) as exc:
            logger.warning("SES mail s3://%s/%s could not be read: %s", bucket_name, object_key, exc)
            raise EmailFetchFailed() from exc
        finally:
            if body is not None:
                body.close()
            if client is not None:
                client.close()
