"""Bank transfer: the payer reads instructions with the invoice number as reference; an admin marks it paid."""

from __future__ import annotations

from collections.abc import Mapping

from apps.invoices.errors import BadSignature
from apps.invoices.models import Provider
from apps.invoices.providers.base import Checkout, PaymentProvider, VerifiedEvent


class BankTransfer(PaymentProvider):
    kind = Provider.BANK_TRANSFER
    hosted = False

    def start(self, *, invoice, attempt, return_url: str, cancel_url: str) -> Checkout:
        # No hosted page: the payer is shown the bank details on the invoice page.
        return Checkout(reference=invoice.number_display, url=return_url)

    def verify(self, *, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        raise BadSignature()  # banks send no webhooks here: an admin confirms the transfer
