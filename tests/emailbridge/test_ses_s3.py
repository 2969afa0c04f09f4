"""Amazon SES inbound with an S3 action: the SNS notification (signed, checked like every SES one) names a
bucket and key, anymail downloads the object with boto3 from an S3 endpoint on loopback (fake_s3.py, with
a real Signature Version 4 check), and the mail ends stored raw, byte for byte, in the same inbound service."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from apps.conversations.models import Attachment, Message
from apps.emailbridge.models import InboundEmail
from tests.emailbridge.providers import mime, post_sns, sns_notification, stored
from tests.emailbridge.test_webhook_sizes import large_mail

pytestmark = pytest.mark.usefixtures("webhook_settings")

BUCKET = "parley-inbound-mail"


def test_a_signed_s3_notification_stores_the_object_raw_and_delivers_it(
    webhook_client, tenant, signing_key, sns_settings, fake_s3
):
    raw = mime(tenant)
    key = "inbound/0a1b2c3d4e5f"
    fake_s3.put(BUCKET, key, raw)
    response = post_sns(webhook_client, sns_notification(tenant, None, signing_key, sns_settings, s3=(BUCKET, key)))
    assert response.status_code == 200
    assert fake_s3.requests == [{"method": "GET", "bucket": BUCKET, "key": key, "signed": True}]
    [row] = stored(tenant)
    assert row.source == "amazon_ses" and row.status == InboundEmail.Status.DELIVERED
    assert row.envelope_from == "customer@example.com"
    with row.raw.open("rb") as handle:
        assert handle.read() == raw
    with scopes_disabled():
        message = Message.objects.get(pk=row.chat_message_id)
        assert [a.filename for a in Attachment.objects.filter(message=message)] == ["Zamówienie.pdf"]
    assert message.body == "Здравствуйте, где мой заказ?"


def test_a_5_mb_mail_from_s3_arrives_whole(webhook_client, tenant, signing_key, sns_settings, fake_s3):
    raw = large_mail(tenant)
    fake_s3.put(BUCKET, "inbound/large", raw)
    message = sns_notification(tenant, None, signing_key, sns_settings, s3=(BUCKET, "inbound/large"))
    assert post_sns(webhook_client, message).status_code == 200
    [row] = stored(tenant)
    assert row.status == InboundEmail.Status.DELIVERED and row.raw_size == len(raw)
    with row.raw.open("rb") as handle:
        assert handle.read() == raw


def test_an_s3_object_over_the_limit_is_refused_with_413(
    webhook_client, tenant, signing_key, sns_settings, fake_s3, settings
):
    raw = large_mail(tenant)
    settings.PARLEY_EMAIL_MAX_BYTES = 1_000_000
    fake_s3.put(BUCKET, "inbound/huge", raw)
    response = post_sns(
        webhook_client, sns_notification(tenant, None, signing_key, sns_settings, s3=(BUCKET, "inbound/huge"))
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert stored(tenant) == []


def test_a_missing_s3_object_answers_502_so_sns_retries(webhook_client, tenant, signing_key, sns_settings, fake_s3):
    message = sns_notification(tenant, None, signing_key, sns_settings, s3=(BUCKET, "inbound/gone"))
    response = post_sns(webhook_client, message)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "email_unavailable"
    assert fake_s3.requests[0]["key"] == "inbound/gone"
    assert stored(tenant) == []


def test_wrong_aws_credentials_are_refused_by_s3_and_nothing_is_stored(
    webhook_client, tenant, signing_key, sns_settings, fake_s3, settings
):
    fake_s3.put(BUCKET, "inbound/1", mime(tenant))
    session = settings.ANYMAIL["AMAZON_SES_SESSION_PARAMS"]
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "AMAZON_SES_SESSION_PARAMS": {**session, "aws_secret_access_key": "not-the-secret"},
    }
    message = sns_notification(tenant, None, signing_key, sns_settings, s3=(BUCKET, "inbound/1"))
    assert post_sns(webhook_client, message).status_code == 502
    assert fake_s3.requests[-1]["signed"] is False
    assert stored(tenant) == []


def test_a_tampered_s3_notification_fetches_nothing(webhook_client, tenant, signing_key, sns_settings, fake_s3):
    fake_s3.put(BUCKET, "inbound/1", mime(tenant))
    message = sns_notification(tenant, None, signing_key, sns_settings, s3=(BUCKET, "inbound/1"), tamper=True)
    assert post_sns(webhook_client, message).status_code == 400
    assert fake_s3.requests == []
    assert stored(tenant) == []
