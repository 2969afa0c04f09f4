"""Each provider's inbound webhook payload, as its documentation shapes it, through django-anymail and our
receiver: valid signatures store and parse the mail, invalid ones change nothing. Amazon SNS certificates are
served by a real HTTP server on loopback. Sizes: test_webhook_sizes.py; SES with S3 delivery: test_ses_s3.py."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.conversations.models import Attachment, Message
from apps.emailbridge.models import InboundEmail
from tests.emailbridge.mail import build
from tests.emailbridge.providers import (
    auth_header,
    mailgun_form,
    mime,
    post_sns,
    postmark_payload,
    sns_notification,
    stored,
)

pytestmark = pytest.mark.usefixtures("webhook_settings")


# --- Mailgun: HMAC-SHA256 of timestamp + token with the webhook signing key ------------------------


def test_mailgun_signed_mail_is_stored_and_parsed(webhook_client, tenant):
    raw = mime(tenant)
    response = webhook_client.post(
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


def test_mailgun_with_a_wrong_signature_is_refused(webhook_client, tenant):
    form = mailgun_form(tenant, mime(tenant), key="key-of-an-attacker")
    response = webhook_client.post(reverse("emailbridge:mailgun_inbound"), form, HTTP_AUTHORIZATION=auth_header())
    assert response.status_code == 400
    assert stored(tenant) == []


def test_mailgun_without_a_signing_key_configured_is_not_there(webhook_client, tenant, settings):
    settings.ANYMAIL = {}
    response = webhook_client.post(reverse("emailbridge:mailgun_inbound"), mailgun_form(tenant, mime(tenant)))
    assert response.status_code == 404


def test_mail_for_an_unknown_address_is_acknowledged_and_dropped(webhook_client, tenant):
    form = mailgun_form(tenant, build(to="nobody@inbound.localhost"))
    form["recipient"] = "nobody@inbound.localhost"
    response = webhook_client.post(reverse("emailbridge:mailgun_inbound"), form, HTTP_AUTHORIZATION=auth_header())
    assert response.status_code == 200
    with scopes_disabled():
        assert not InboundEmail.objects.exists()


# --- Postmark: basic auth, JSON with RawEmail (or the parsed fields) -------------------------------


@pytest.mark.parametrize("with_raw", [True, False], ids=["raw-email", "parsed-fields"])
def test_postmark_with_basic_auth_is_stored_and_parsed(webhook_client, tenant, with_raw):
    raw = mime(tenant)
    response = webhook_client.post(
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
def test_postmark_without_the_right_credentials_is_refused(webhook_client, tenant, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = webhook_client.post(
        reverse("emailbridge:postmark_inbound"),
        json.dumps(postmark_payload(tenant, mime(tenant))),
        content_type="application/json",
        **extra,
    )
    assert response.status_code in (400, 401)
    assert stored(tenant) == []


def test_a_postmark_payload_over_djangos_form_limit_still_arrives(webhook_client, tenant):
    raw = build(to=tenant.inbound_address, attachments=[("big.bin", "application/octet-stream", b"\1" * 3_000_000)])
    response = webhook_client.post(
        reverse("emailbridge:postmark_inbound"),
        json.dumps(postmark_payload(tenant, raw)),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth_header(),
    )
    assert response.status_code == 200
    assert stored(tenant)[0].raw_size == len(raw)


# --- Amazon SES through SNS: basic auth and the SNS message signature -----------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_amazon_ses_signed_notification_is_stored_and_parsed(
    webhook_client, tenant, signing_key, sns_settings, version
):
    raw = mime(tenant)
    response = post_sns(webhook_client, sns_notification(tenant, raw, signing_key, sns_settings, version=version))
    assert response.status_code == 200
    [row] = stored(tenant)
    assert row.source == "amazon_ses" and row.status == InboundEmail.Status.DELIVERED
    with row.raw.open("rb") as handle:
        assert handle.read() == raw
    assert [a["filename"] for a in row.attachments] == ["Zamówienie.pdf"]


def test_amazon_ses_with_a_tampered_message_is_refused(webhook_client, tenant, signing_key, sns_settings):
    response = post_sns(webhook_client, sns_notification(tenant, mime(tenant), signing_key, sns_settings, tamper=True))
    assert response.status_code == 400
    assert stored(tenant) == []


def test_amazon_ses_with_a_certificate_from_elsewhere_is_refused(webhook_client, tenant, signing_key, sns_settings):
    message = sns_notification(tenant, mime(tenant), signing_key, sns_settings)
    message["SigningCertURL"] = "https://evil.example/SimpleNotificationService-0123abcd.pem"
    assert post_sns(webhook_client, message).status_code == 400
    assert stored(tenant) == []


def test_amazon_ses_from_another_topic_is_refused(webhook_client, tenant, signing_key, sns_settings, settings):
    settings.PARLEY_SNS_TOPIC_ARNS = ["arn:aws:sns:us-east-1:123456789012:someone-else"]
    message = sns_notification(tenant, mime(tenant), signing_key, sns_settings)
    assert post_sns(webhook_client, message).status_code == 400
    assert stored(tenant) == []
