"""Each provider's inbound webhook payload, as its documentation shapes it, through django-anymail and our
receiver: valid signatures store and parse the mail, invalid ones change nothing. Amazon SNS certificates are
served by a real HTTP server on loopback."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import http.server
import json
import threading
import time
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.conversations.models import Attachment, Message
from apps.emailbridge.models import InboundEmail
from apps.emailbridge.sns import string_to_sign
from tests.emailbridge.mail import build

MAILGUN_KEY = "key-test-signing-0123456789"
BASIC = ("parley", "webhook-secret")


@pytest.fixture(autouse=True)
def providers(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY, "WEBHOOK_SECRET": ":".join(BASIC)}


@pytest.fixture
def client(client, django_capture_on_commit_callbacks):
    """The test client, running what the request left for after its commit (the parse task) at once."""
    post = client.post

    def post_and_commit(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post(*args, **kwargs)

    client.post = post_and_commit
    return client


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


def test_mailgun_signed_mail_is_stored_and_parsed(client, tenant):
    raw = mime(tenant)
    response = client.post(
        reverse("emailbridge:mailgun_inbound"), mailgun_form(tenant, raw), HTTP_AUTHORIZATION=auth_header()
    )
    assert response.status_code == 200
    [row] = stored(tenant)
    assert row.source == "mailgun" and row.status == InboundEmail.Status.DELIVERED
    assert row.envelope_from == "customer@example.com"
    with row.raw.open("rb") as handle:
        assert handle.read() == raw
    with scopes_disabled():
        message = Message.objects.get(pk=row.chat_message_id)
        assert [a.filename for a in Attachment.objects.filter(message=message)] == ["Zamówienie.pdf"]
    assert message.body == "Здравствуйте, где мой заказ?"


def test_mailgun_with_a_wrong_signature_is_refused(client, tenant):
    form = mailgun_form(tenant, mime(tenant), key="key-of-an-attacker")
    response = client.post(reverse("emailbridge:mailgun_inbound"), form, HTTP_AUTHORIZATION=auth_header())
    assert response.status_code == 400
    assert stored(tenant) == []


def test_mailgun_without_a_signing_key_configured_is_not_there(client, tenant, settings):
    settings.ANYMAIL = {}
    response = client.post(reverse("emailbridge:mailgun_inbound"), mailgun_form(tenant, mime(tenant)))
    assert response.status_code == 404


def test_mail_for_an_unknown_address_is_acknowledged_and_dropped(client, tenant):
    form = mailgun_form(tenant, build(to="nobody@inbound.localhost"))
    form["recipient"] = "nobody@inbound.localhost"
    response = client.post(reverse("emailbridge:mailgun_inbound"), form, HTTP_AUTHORIZATION=auth_header())
    assert response.status_code == 200
    with scopes_disabled():
        assert not InboundEmail.objects.exists()


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


@pytest.mark.parametrize("with_raw", [True, False], ids=["raw-email", "parsed-fields"])
def test_postmark_with_basic_auth_is_stored_and_parsed(client, tenant, with_raw):
    raw = mime(tenant)
    response = client.post(
        reverse("emailbridge:postmark_inbound"),
        json.dumps(postmark_payload(tenant, raw if with_raw else None)),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth_header(),
    )
    assert response.status_code == 200
    [row] = stored(tenant)
    assert row.source == "postmark" and row.status == InboundEmail.Status.DELIVERED
    assert row.envelope_from == "customer@example.com"
    assert row.display_text == "Здравствуйте, где мой заказ?"
    assert [a["filename"] for a in row.attachments] == ["Zamówienie.pdf"]
    if with_raw:
        with row.raw.open("rb") as handle:
            assert handle.read() == raw


@pytest.mark.parametrize("authorization", [None, auth_header(password="wrong")], ids=["missing", "wrong"])
def test_postmark_without_the_right_credentials_is_refused(client, tenant, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.post(
        reverse("emailbridge:postmark_inbound"),
        json.dumps(postmark_payload(tenant, mime(tenant))),
        content_type="application/json",
        **extra,
    )
    assert response.status_code in (400, 401)
    assert stored(tenant) == []


def test_a_postmark_payload_over_djangos_form_limit_still_arrives(client, tenant):
    raw = build(to=tenant.inbound_address, attachments=[("big.bin", "application/octet-stream", b"\1" * 3_000_000)])
    response = client.post(
        reverse("emailbridge:postmark_inbound"),
        json.dumps(postmark_payload(tenant, raw)),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth_header(),
    )
    assert response.status_code == 200
    assert stored(tenant)[0].raw_size == len(raw)


# --- Amazon SES through SNS: basic auth and the SNS message signature -----------------------------


@pytest.fixture(scope="module")
def signing_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test.amazonaws.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def cert_server(signing_key):
    """Serves the signing certificate the way sns.<region>.amazonaws.com does, on loopback."""
    pem = signing_key[1]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path.startswith("/SimpleNotificationService-") else 404)
            self.end_headers()
            self.wfile.write(pem)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def sns_settings(settings, cert_server):
    settings.PARLEY_SNS_CERT_URL_PATTERN = r"^http://127\.0\.0\.1:\d+/SimpleNotificationService-[0-9a-f]+\.pem$"
    settings.PARLEY_SNS_TOPIC_ARNS = ["arn:aws:sns:us-east-1:123456789012:parley-inbound"]
    return cert_server


def sns_notification(tenant, raw: bytes, signing_key, cert_server, *, version="2", tamper=False):
    ses_event = {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2026-12-01T10:00:00.000Z",
            "source": "customer@example.com",
            "messageId": "ses-" + uuid.uuid4().hex,
            "destination": [tenant.inbound_address],
        },
        "receipt": {
            "recipients": [tenant.inbound_address],
            "spamVerdict": {"status": "PASS"},
            "action": {
                "type": "SNS",
                "topicArn": "arn:aws:sns:us-east-1:123456789012:parley-inbound",
                "encoding": "BASE64",
            },
        },
        "content": base64.b64encode(raw).decode(),
    }
    message = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:parley-inbound",
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


@pytest.mark.parametrize("version", ["1", "2"])
def test_amazon_ses_signed_notification_is_stored_and_parsed(client, tenant, signing_key, sns_settings, version):
    raw = mime(tenant)
    response = post_sns(client, sns_notification(tenant, raw, signing_key, sns_settings, version=version))
    assert response.status_code == 200
    [row] = stored(tenant)
    assert row.source == "amazon_ses" and row.status == InboundEmail.Status.DELIVERED
    with row.raw.open("rb") as handle:
        assert handle.read() == raw
    assert [a["filename"] for a in row.attachments] == ["Zamówienie.pdf"]


def test_amazon_ses_with_a_tampered_message_is_refused(client, tenant, signing_key, sns_settings):
    response = post_sns(client, sns_notification(tenant, mime(tenant), signing_key, sns_settings, tamper=True))
    assert response.status_code == 400
    assert stored(tenant) == []


def test_amazon_ses_with_a_certificate_from_elsewhere_is_refused(client, tenant, signing_key, sns_settings):
    message = sns_notification(tenant, mime(tenant), signing_key, sns_settings)
    message["SigningCertURL"] = "https://evil.example/SimpleNotificationService-0123abcd.pem"
    assert post_sns(client, message).status_code == 400
    assert stored(tenant) == []


def test_amazon_ses_from_another_topic_is_refused(client, tenant, signing_key, sns_settings, settings):
    settings.PARLEY_SNS_TOPIC_ARNS = ["arn:aws:sns:us-east-1:123456789012:someone-else"]
    assert post_sns(client, sns_notification(tenant, mime(tenant), signing_key, sns_settings)).status_code == 400
    assert stored(tenant) == []
