"""Stripe Checkout through the official `stripe` SDK.

One Checkout Session per payment attempt, created with the attempt's idempotency key (a
retried request returns the same session), the tenant and invoice in metadata and an expiry.
Checkout chooses the payment methods the account has enabled for the currency, so a Polish
buyer paying in PLN gets BLIK and Przelewy24 when they are on in the Stripe dashboard.

Webhooks are verified with the SDK's own `WebhookSignature.verify_header` against the
account's signing secret, with Stripe's default 5-minute tolerance for the timestamp.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import stripe
from django.conf import settings
from django.utils import timezone

from apps.invoices import keys
from apps.invoices.errors import BadSignature, PaymentUnavailable
from apps.invoices.models import Provider
from apps.invoices.money import to_minor
from apps.invoices.providers.base import Checkout, PaymentProvider, VerifiedEvent, metadata_id

# Checkout Sessions may live 30 minutes to 24 hours.
SESSION_LIFETIME = timedelta(hours=1)
# Languages Checkout is shown in; anything else lets Stripe pick from the browser.
CHECKOUT_LOCALES = {"en": "en", "ru": "ru", "pl": "pl"}

PAID_EVENTS = {"checkout.session.async_payment_succeeded"}
FAILED_EVENTS = {"checkout.session.async_payment_failed"}
EXPIRED_EVENTS = {"checkout.session.expired"}


class StripeCheckout(PaymentProvider):
    kind = Provider.STRIPE

    def _client(self) -> stripe.StripeClient:
        secret_key = keys.decrypt(self.account.secret_key_encrypted)
        if not secret_key:
            raise PaymentUnavailable()
        base = getattr(settings, "PARLEY_STRIPE_API_BASE", "")
        return stripe.StripeClient(
            secret_key,
            base_addresses={"api": base} if base else None,
            max_network_retries=2,
        )

    def start(self, *, invoice, attempt, return_url: str, cancel_url: str) -> Checkout:
        metadata = {
            "parley_tenant": str(invoice.tenant_id),
            "parley_invoice": str(invoice.pk),
            "parley_attempt": str(attempt.pk),
            "invoice_number": invoice.number_display,
        }
        expires_at = timezone.now() + SESSION_LIFETIME
        params: dict = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": invoice.currency.lower(),
                        "unit_amount": to_minor(invoice.total, invoice.currency),
                        "product_data": {"name": invoice.number_display},
                    },
                }
            ],
            "client_reference_id": str(invoice.pk),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata, "description": invoice.number_display},
            "success_url": return_url,
            "cancel_url": cancel_url,
            "expires_at": int(expires_at.timestamp()),
            "locale": CHECKOUT_LOCALES.get(invoice.language, "auto"),
        }
        if invoice.buyer_email:
            params["customer_email"] = invoice.buyer_email
        try:
            session = self._client().v1.checkout.sessions.create(
                params=params, options={"idempotency_key": attempt.idempotency_key}
            )
        except stripe.StripeError as error:
            raise PaymentUnavailable() from error
        url = getattr(session, "url", None)
        if not session.id or not url:
            raise PaymentUnavailable()
        session_expiry = getattr(session, "expires_at", None)
        return Checkout(
            reference=session.id,
            url=url,
            expires_at=datetime.fromtimestamp(session_expiry, UTC) if session_expiry else expires_at,
        )

    def verify(self, *, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        secret = keys.decrypt(self.account.webhook_secret_encrypted)
        if not secret:
            raise BadSignature()
        try:
            payload_text = body.decode("utf-8")
            stripe.WebhookSignature.verify_header(
                payload_text,
                headers.get("Stripe-Signature", ""),
                secret,
                tolerance=getattr(settings, "PARLEY_STRIPE_WEBHOOK_TOLERANCE", 300),
            )
            event = json.loads(payload_text)
            session = event["data"]["object"]
            event_id = event["id"]
            event_type = event["type"]
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            raise BadSignature() from error
        if not isinstance(event_id, str) or not isinstance(event_type, str) or not isinstance(session, dict):
            raise BadSignature()
        kind = "ignored"
        if event_type == "checkout.session.completed":
            # Cards are paid at once; delayed methods (bank debits) complete unpaid and follow up async.
            kind = "paid" if session.get("payment_status") == "paid" else "ignored"
        elif event_type in PAID_EVENTS:
            kind = "paid"
        elif event_type in FAILED_EVENTS:
            kind = "failed"
        elif event_type in EXPIRED_EVENTS:
            kind = "expired"
        metadata = session.get("metadata") if isinstance(session.get("metadata"), dict) else {}
        amount = session.get("amount_total")
        return VerifiedEvent(
            event_id=event_id[:200],
            event_type=event_type[:100],
            kind=kind,
            reference=str(session.get("id") or "")[:200],
            tenant_id=metadata_id(metadata.get("parley_tenant")),
            invoice_id=metadata_id(metadata.get("parley_invoice")),
            amount_minor=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
            currency=str(session.get("currency") or "").upper()[:3],
            payload=event,
        )
