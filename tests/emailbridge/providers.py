"""The inbound webhook payloads of Mailgun, Postmark and Amazon SES (through SNS), shaped as their
documentation shows and signed the way each provider signs them. Fixtures that serve certificates and
S3 objects on loopback are in conftest.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.emailbridge.models import InboundEmail
from apps.emailbridge.sns import string_to_sign
from tests.emailbridge.mail import build

MAILGUN_KEY = "key-test-signing-0123456789"
BASIC = ("parley", "webhook-secret")
SES_TOPIC = "arn:aws:sns:us-east-1:123456789012:parley-inbound"


def stored(tenant):
    with scopes_disabled():
        return list(InboundEmail.objects.filter(tenant=tenant).order_by("pk"))


def auth_header(user=BASIC[0], password=BASIC[1]):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def mime(tenant, **kwargs):
    return build(
        to=tenant.inbound_address,
        subject="Вопрос о заказе",
        text="Здравствуйте, где мой заказ?",
        attachments=[("Zamówienie.pdf", "application/pdf", b"%PDF-1.4 order")],
        **kwargs,
    )


# --- Mailgun: HMAC-SHA256 of timestamp + token with the webhook signing key ------------------------


def mailgun_form(tenant, raw: bytes, *, key=MAILGUN_KEY, timestamp=None):
    timestamp = str(timestamp or int(time.time()))
    token = uuid.uuid4().hex
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "recipient": tenant.inbound_address,
        "sender": "customer@example.com",
        "from": "Customer <customer@example.com>",
        "subject": "Вопрос о заказе",
        "body-mime": raw.decode("utf-8"),
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
    }


# --- Postmark: basic auth, JSON with RawEmail (or the parsed fields) -------------------------------


def postmark_payload(tenant, raw: bytes | None):
    payload = {
        "FromName": "Customer",
        "From": "customer@example.com",
        "FromFull": {"Email": "customer@example.com", "Name": "Customer", "MailboxHash": ""},
        "To": tenant.inbound_address,
        "ToFull": [{"Email": tenant.inbound_address, "Name": "", "MailboxHash": ""}],
        "OriginalRecipient": tenant.inbound_address,
        "Subject": "Вопрос о заказе",
        "MessageID": str(uuid.uuid4()),
        "Date": "Tue, 1 Dec 2026 10:00:00 +0000",
        "TextBody": "Здравствуйте, где мой заказ?",
        "HtmlBody": "",
        "Headers": [
            {"Name": "Return-Path", "Value": "<customer@example.com>"},
            {"Name": "Message-ID", "Value": "<postmark-parsed@example.com>"},
        ],
        "Attachments": [
            {
                "Name": "Zamówienie.pdf",
                "Content": base64.b64encode(b"%PDF-1.4 order").decode(),
                "ContentType": "application/pdf",
                "ContentLength": 14,
            }
        ],
    }
    if raw is not None:
        payload["RawEmail"] = raw.decode("utf-8")
    return payload


# --- Amazon SES through SNS: basic auth and the SNS message signature -----------------------------


def sns_notification(tenant, raw: bytes | None, signing_key, cert_server, *, version="2", tamper=False, s3=None):
    """An SNS notification of an SES receipt rule: an SNS action carrying the mail (Base64), or, with
    `s3=(bucket, key)`, an S3 action that only names the object the mail was written to."""
    if s3 is None:
        action = {"type": "SNS", "topicArn": SES_TOPIC, "encoding": "BASE64"}
    else:
        bucket, key = s3
        action = {
            "type": "S3",
            "topicArn": SES_TOPIC,
            "bucketName": bucket,
            "objectKeyPrefix": key.rpartition("/")[0],
            "objectKey": key,
        }
    ses_event = {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2026-12-01T10:00:00.000Z",
            "source": "customer@example.com",
            "messageId": "ses-" + uuid.uuid4().hex,
            "destination": [tenant.inbound_address],
        },
        "receipt": {"recipients": [tenant.inbound_address], "spamVerdict": {"status": "PASS"}, "action": action},
    }
    if s3 is None:
        ses_event["content"] = base64.b64encode(raw).decode()
    message = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": SES_TOPIC,
        "Subject": "Amazon SES Email Receipt Notification",
        "Message": json.dumps(ses_event),
        "Timestamp": "2026-12-01T10:00:01.000Z",
        "SignatureVersion": version,
        "SigningCertURL": f"{cert_server}/SimpleNotificationService-0123abcd.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303
    message["Signature"] = base64.b64encode(
        signing_key[0].sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
    ).decode()
    if tamper:
        ses_event["mail"]["source"] = "attacker@example.com"
        message["Message"] = json.dumps(ses_event)
    return message


def post_sns(client, message):
    return client.post(
        reverse("emailbridge:amazon_ses_inbound"),
        json.dumps(message),
        content_type="text/plain; charset=UTF-8",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE=message["Type"],
        HTTP_X_AMZ_SNS_MESSAGE_ID=message["MessageId"],
        HTTP_AUTHORIZATION=auth_header(),
    )
