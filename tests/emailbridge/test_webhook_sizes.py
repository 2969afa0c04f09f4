"""Mail up to PARLEY_EMAIL_MAX_BYTES arrives through every provider's webhook, whatever Django's form limit
(DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB) says; larger mail is answered 413 `too_large` and nothing is stored;
the rest of the site keeps Django's limit. Every payload is validly signed."""

from __future__ import annotations

import base64
import json
import os

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled
from urllib3.filepost import encode_multipart_formdata

from apps.conversations.models import Attachment, Message
from apps.emailbridge.models import InboundEmail
from tests.emailbridge.providers import auth_header, mailgun_form, post_sns, postmark_payload, sns_notification, stored

pytestmark = pytest.mark.usefixtures("webhook_settings")

# ~5 MB of mail: a KOI8-R text part in 8-bit (bytes that are not UTF-8) and a 3.8 MB attachment in Base64.
ATTACHMENT = os.urandom(3_800_000)
TEXT = "Здравствуйте, прикладываю счёт."


def large_mail(tenant) -> bytes:
    return b"\r\n".join(
        [
            b"From: Customer <customer@example.com>",
            b"To: " + tenant.inbound_address.encode(),
            b"Subject: =?koi8-r?B?" + base64.b64encode("Счёт".encode("koi8-r")) + b"?=",
            b"Message-ID: <large-" + os.urandom(6).hex().encode() + b"@example.com>",
            b"Date: Tue, 01 Dec 2026 10:00:00 +0000",
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/mixed; boundary="parley-part"',
            b"",
            b"--parley-part",
            b"Content-Type: text/plain; charset=koi8-r",
            b"Content-Transfer-Encoding: 8bit",
            b"",
            TEXT.encode("koi8-r"),
            b"--parley-part",
            b'Content-Type: application/octet-stream; name="schet.bin"',
            b'Content-Disposition: attachment; filename="schet.bin"',
            b"Content-Transfer-Encoding: base64",
            b"",
            base64.encodebytes(ATTACHMENT).replace(b"\n", b"\r\n") + b"--parley-part--",
            b"",
        ]
    )


def post_mailgun(client, tenant, raw: bytes):
    """Mailgun's forward() to the raw-MIME URL: multipart/form-data, `body-mime` a text field of the raw bytes."""
    fields = {k: v for k, v in mailgun_form(tenant, b"").items() if k != "body-mime"}
    body, content_type = encode_multipart_formdata([*fields.items(), ("body-mime", raw)])
    return client.post(
        reverse("emailbridge:mailgun_inbound"), body, content_type=content_type, HTTP_AUTHORIZATION=auth_header()
    )


def post_postmark(client, tenant, raw: bytes):
    payload = postmark_payload(tenant, None)
    payload["RawEmail"] = raw.decode("utf-8")
    return client.post(
        reverse("emailbridge:postmark_inbound"),
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth_header(),
    )


def assert_delivered_whole(tenant, raw: bytes, source: str) -> None:
    [row] = stored(tenant)
    assert row.source == source and row.status == InboundEmail.Status.DELIVERED
    assert row.raw_size == len(raw)
    with row.raw.open("rb") as handle:
        assert handle.read() == raw
    with scopes_disabled():
        message = Message.objects.get(pk=row.chat_message_id)
        [attachment] = Attachment.objects.filter(message=message)
    assert message.body == TEXT
    assert attachment.filename == "schet.bin" and attachment.size == len(ATTACHMENT)


def test_a_5_mb_mail_through_mailgun_arrives_byte_for_byte(webhook_client, tenant, settings):
    raw = large_mail(tenant)
    assert len(raw) > 5_000_000 > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = post_mailgun(webhook_client, tenant, raw)
    assert response.status_code == 200
    assert_delivered_whole(tenant, raw, "mailgun")


def utf8_mail(tenant) -> bytes:
    """Postmark's RawEmail is a JSON string: the same mail with its text in UTF-8."""
    return large_mail(tenant).replace(TEXT.encode("koi8-r"), TEXT.encode("utf-8")).replace(b"koi8-r", b"utf-8")


def test_a_5_mb_mail_through_postmark_arrives(webhook_client, tenant):
    raw = utf8_mail(tenant)
    assert post_postmark(webhook_client, tenant, raw).status_code == 200
    assert_delivered_whole(tenant, raw, "postmark")


def test_a_5_mb_mail_through_amazon_ses_arrives(webhook_client, tenant, signing_key, sns_settings):
    raw = large_mail(tenant)
    response = post_sns(webhook_client, sns_notification(tenant, raw, signing_key, sns_settings))
    assert response.status_code == 200
    assert_delivered_whole(tenant, raw, "amazon_ses")


@pytest.mark.parametrize("provider", ["mailgun", "postmark", "amazon_ses"])
def test_mail_over_the_limit_is_refused_with_413_and_not_stored(
    webhook_client, tenant, settings, signing_key, sns_settings, provider
):
    raw = utf8_mail(tenant) if provider == "postmark" else large_mail(tenant)
    # A limit the mail is just over: the body still fits the wire bound, so the signature is checked and the
    # message itself is measured.
    settings.PARLEY_EMAIL_MAX_BYTES = len(raw) - 1
    if provider == "mailgun":
        response = post_mailgun(webhook_client, tenant, raw)
    elif provider == "postmark":
        response = post_postmark(webhook_client, tenant, raw)
    else:
        response = post_sns(webhook_client, sns_notification(tenant, raw, signing_key, sns_settings))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert stored(tenant) == []


def test_a_body_too_large_to_carry_an_allowed_mail_is_refused_before_it_is_read(webhook_client, tenant, settings):
    settings.PARLEY_EMAIL_MAX_BYTES = 1_000_000
    form = mailgun_form(tenant, b"")
    form["signature"] = "not checked: the size is refused first"
    form["body-mime"] = "x" * 2_000_000
    response = webhook_client.post(reverse("emailbridge:mailgun_inbound"), form, HTTP_AUTHORIZATION=auth_header())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert stored(tenant) == []


def test_a_multipart_body_cut_short_is_refused_and_changes_nothing(webhook_client, tenant):
    fields = list(mailgun_form(tenant, utf8_mail(tenant)).items())
    body, content_type = encode_multipart_formdata(fields)
    response = webhook_client.post(
        reverse("emailbridge:mailgun_inbound"),
        body[: len(body) // 2],
        content_type=content_type,
        HTTP_AUTHORIZATION=auth_header(),
    )
    assert response.status_code == 400
    assert stored(tenant) == []


def test_the_rest_of_the_site_keeps_djangos_form_limit(client):
    response = client.post("/i18n/setlang/", {"language": "ru", "next": "/" + "x" * 3_000_000})
    assert response.status_code == 400
