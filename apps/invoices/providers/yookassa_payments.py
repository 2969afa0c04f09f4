"""YooKassa through the official `yookassa` SDK, for tenants in Russia.

A payment is created with the attempt's idempotence key and a redirect confirmation; the
payer goes to its `confirmation_url`. Notifications are never trusted as they arrive: only
the payment id is read from one, and the payment's status, amount and metadata are fetched
back from the API with the tenant's own credentials before anything changes.

The SDK keeps its credentials in class attributes (`Configuration`), so each call
configures it for the tenant and runs under a lock: two tenants' calls never mix keys.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from yookassa import Configuration, Payment
from yookassa.domain.exceptions import ApiError

from apps.invoices import keys
from apps.invoices.errors import BadSignature, PaymentUnavailable
from apps.invoices.models import Provider
from apps.invoices.money import round_money, to_minor
from apps.invoices.providers.base import Checkout, PaymentProvider, VerifiedEvent, metadata_id

DEFAULT_API_URL = "https://api.yookassa.ru/v3"
CONFIRMATION_LOCALES = {"ru": "ru_RU", "en": "en_US"}
_configuration_lock = threading.Lock()


class YooKassaPayments(PaymentProvider):
    kind = Provider.YOOKASSA

    @contextmanager
    def _configured(self):
        secret_key = keys.decrypt(self.account.secret_key_encrypted)
        if not self.account.account_id or not secret_key:
            raise PaymentUnavailable()
        with _configuration_lock:
            Configuration.configure(
                self.account.account_id,
                secret_key,
                api_url=getattr(settings, "PARLEY_YOOKASSA_API_URL", "") or DEFAULT_API_URL,
                timeout=1000,
                max_attempts=2,
            )
            try:
                yield
            finally:
                Configuration.configure(None, None)

    def start(self, *, invoice, attempt, return_url: str, cancel_url: str) -> Checkout:
        params: dict[str, Any] = {
            "amount": {"value": str(round_money(invoice.total, invoice.currency)), "currency": invoice.currency},
            "confirmation": {"type": "redirect", "return_url": return_url},
            "capture": True,
            "description": invoice.number_display[:128],
            "metadata": {
                "parley_tenant": str(invoice.tenant_id),
                "parley_invoice": str(invoice.pk),
                "parley_attempt": str(attempt.pk),
            },
        }
        if invoice.language in CONFIRMATION_LOCALES:
            params["confirmation"]["locale"] = CONFIRMATION_LOCALES[invoice.language]
        try:
            with self._configured():
                payment = Payment.create(params, attempt.idempotency_key)
        except (ApiError, OSError, ValueError) as error:
            raise PaymentUnavailable() from error
        confirmation = getattr(payment, "confirmation", None)
        url = getattr(confirmation, "confirmation_url", None)
        if not payment.id or not url:
            raise PaymentUnavailable()
        expires = getattr(payment, "expires_at", None)
        return Checkout(reference=payment.id, url=url, expires_at=_parse_time(expires))

    def verify(self, *, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        try:
            notification = json.loads(body.decode("utf-8"))
            payment_id = notification["object"]["id"]
            event_type = notification["event"]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            raise BadSignature() from error
        if not isinstance(payment_id, str) or not (0 < len(payment_id) <= 64) or not isinstance(event_type, str):
            raise BadSignature()
        # The notification's own status and amount are ignored: ask the API what is true.
        try:
            with self._configured():
                payment = Payment.find_one(payment_id)
        except PaymentUnavailable as error:
            raise BadSignature() from error
        except (ApiError, OSError, ValueError) as error:
            raise BadSignature() from error
        status = getattr(payment, "status", "")
        if status == "succeeded" and getattr(payment, "paid", False):
            kind = "paid"
        elif status == "canceled":
            kind = "failed"
        else:
            kind = "ignored"
        metadata = dict(getattr(payment, "metadata", None) or {})
        amount = getattr(payment, "amount", None)
        currency = str(getattr(amount, "currency", "") or "")
        amount_minor = None
        if amount is not None and currency:
            try:
                amount_minor = to_minor(Decimal(str(amount.value)), currency)
            except (ValueError, ArithmeticError):
                amount_minor = None
        fetched = {"id": payment.id, "status": status, "paid": bool(getattr(payment, "paid", False))}
        return VerifiedEvent(
            # YooKassa notifications carry no id of their own: one per payment and fetched status.
            event_id=f"{payment.id}:{status}"[:200],
            event_type=event_type[:100],
            kind=kind,
            reference=payment.id,
            tenant_id=metadata_id(metadata.get("parley_tenant")),
            invoice_id=metadata_id(metadata.get("parley_invoice")),
            amount_minor=amount_minor,
            currency=currency,
            payload={"notification": notification, "fetched": fetched},
        )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
