import json
import time

import pytest
import stripe
from django_scopes import scopes_disabled

from apps.invoices import keys, services
from apps.invoices.models import PaymentAccount
from tests import factories

# The conversation tests' recording channel layer, `publish()` and fast password hashing.
from tests.conversations.conftest import _fast_password_hashing, layer, publish  # noqa: F401
from tests.invoices.fakes import FakeServer, StripeAPI, YooKassaAPI

STRIPE_SECRET_KEY = "sk_test_51ParleyFakeKey000000000000000000"
STRIPE_WEBHOOK_SECRET = "whsec_parleytestsigningsecret0000000"
YOOKASSA_SHOP_ID = "100500"
YOOKASSA_SECRET_KEY = "test_ParleyYooKassaSecret000000000000"


@pytest.fixture
def stripe_api(settings):
    api = StripeAPI()
    server = FakeServer(api).start()
    settings.PARLEY_STRIPE_API_BASE = server.url
    api.server = server
    yield api
    server.stop()


@pytest.fixture
def yookassa_api(settings):
    api = YooKassaAPI(YOOKASSA_SHOP_ID, YOOKASSA_SECRET_KEY)
    server = FakeServer(api).start()
    settings.PARLEY_YOOKASSA_API_URL = server.url + "/v3"
    api.server = server
    yield api
    server.stop()


def _account(tenant, provider, **fields):
    with scopes_disabled():
        return PaymentAccount.objects.create(tenant=tenant, provider=provider, **fields)


@pytest.fixture
def stripe_account(tenant):
    return _account(
        tenant,
        "stripe",
        secret_key_encrypted=keys.encrypt(STRIPE_SECRET_KEY),
        webhook_secret_encrypted=keys.encrypt(STRIPE_WEBHOOK_SECRET),
    )


@pytest.fixture
def other_stripe_account(other_tenant):
    return _account(
        other_tenant,
        "stripe",
        secret_key_encrypted=keys.encrypt("sk_test_51OtherTenantKey00000000000000"),
        webhook_secret_encrypted=keys.encrypt("whsec_othertenantsecret000000000000"),
    )


@pytest.fixture
def yookassa_account(tenant):
    return _account(
        tenant, "yookassa", account_id=YOOKASSA_SHOP_ID, secret_key_encrypted=keys.encrypt(YOOKASSA_SECRET_KEY)
    )


@pytest.fixture
def admin_member(owner):
    return owner


LINES = [
    {"description": "Consulting, hours", "quantity": "2", "unit_price": "45.50", "tax_rate": "23"},
    {"description": "Setup fee", "quantity": "1", "unit_price": "10", "tax_rate": "0"},
]


@pytest.fixture
def make_invoice(tenant, conversation, operator):
    def _make(*, send=True, provider="bank_transfer", lines=None, currency="EUR", **kwargs):
        invoice = services.invoice_create(
            tenant=tenant,
            conversation=conversation,
            created_by=operator,
            lines=lines or LINES,
            currency=currency,
            provider=provider,
            **kwargs,
        )
        if send:
            invoice = services.invoice_send(tenant=tenant, invoice=invoice, by=operator)
        return invoice

    return _make


def stripe_event(event_type, session, *, event_id=None):
    return json.dumps(
        {
            "id": event_id or f"evt_test_{time.time_ns()}",
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "livemode": False,
            "type": event_type,
            "data": {"object": session},
        }
    )


def sign(payload: str, secret: str = STRIPE_WEBHOOK_SECRET, *, timestamp=None) -> str:
    """The Stripe-Signature header, made with the SDK's own algorithm."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)


@pytest.fixture
def visitor_ru(tenant):
    with scopes_disabled():
        visitor = factories.VisitorFactory(tenant=tenant, language="ru-RU", name="Иван Петров")
        return factories.ConversationFactory(tenant=tenant, visitor=visitor)
