from __future__ import annotations

import datetime
import http.server
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django_scopes import scopes_disabled

from apps.emailbridge import services
from apps.emailbridge.models import InboundEmail


@pytest.fixture(autouse=True)
def _media_and_cache(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Each test counts its own inbound rate limit.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(tmp_path)}
    }


@pytest.fixture
def receive(django_capture_on_commit_callbacks):
    """Deliver raw bytes as the SMTP server would, run the parse task, return the stored row."""

    def _receive(raw: bytes, *, to: str, envelope_from: str | None = "sender@example.com", source: str = "smtp"):
        with django_capture_on_commit_callbacks(execute=True):
            row = services.inbound_email_receive(raw=raw, recipient=to, envelope_from=envelope_from, source=source)
        with scopes_disabled():
            return InboundEmail.objects.get(pk=row.pk)

    return _receive


# --- provider webhooks (payload builders in providers.py) ---------------------------------------


@pytest.fixture
def webhook_settings(settings):
    from tests.emailbridge.providers import BASIC, MAILGUN_KEY

    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY, "WEBHOOK_SECRET": ":".join(BASIC)}
    return settings.ANYMAIL


@pytest.fixture
def webhook_client(client, django_capture_on_commit_callbacks):
    """The test client, running what the request left for after its commit (the parse task) at once."""
    post = client.post

    def post_and_commit(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post(*args, **kwargs)

    client.post = post_and_commit
    return client


@pytest.fixture(scope="session")
def signing_key():
    """An RSA key and a self-signed certificate standing in for Amazon SNS's signing certificate."""
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


@pytest.fixture(scope="session")
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
    server.server_close()


@pytest.fixture
def sns_settings(settings, cert_server):
    from tests.emailbridge.providers import SES_TOPIC

    settings.PARLEY_SNS_CERT_URL_PATTERN = r"^http://127\.0\.0\.1:\d+/SimpleNotificationService-[0-9a-f]+\.pem$"
    settings.PARLEY_SNS_TOPIC_ARNS = [SES_TOPIC]
    return cert_server


@pytest.fixture
def fake_s3(settings, webhook_settings):
    """An S3 endpoint on loopback (tests/emailbridge/fake_s3.py), with anymail's boto3 pointed at it."""
    from tests.emailbridge.fake_s3 import FakeS3

    with FakeS3() as s3:
        settings.ANYMAIL = {
            **webhook_settings,
            "AMAZON_SES_SESSION_PARAMS": {
                "aws_access_key_id": s3.access_key,
                "aws_secret_access_key": s3.secret_key,
                "region_name": s3.region,
            },
            "AMAZON_SES_CLIENT_PARAMS": {
                "endpoint_url": s3.url,
                "config": {"s3": {"addressing_style": "path"}, "retries": {"max_attempts": 1}},
            },
        }
        yield s3
