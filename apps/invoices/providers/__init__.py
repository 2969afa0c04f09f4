"""Payment providers behind one small interface (`base.PaymentProvider`).

Adding Przelewy24 or PayU is one more class here and one more `Provider` choice.
"""

from __future__ import annotations

from apps.invoices.models import PaymentAccount, Provider
from apps.invoices.providers.bank_transfer import BankTransfer
from apps.invoices.providers.base import Checkout, PaymentProvider, VerifiedEvent
from apps.invoices.providers.stripe_checkout import StripeCheckout
from apps.invoices.providers.yookassa_payments import YooKassaPayments

__all__ = ["Checkout", "PaymentProvider", "VerifiedEvent", "provider_for", "PROVIDERS"]

PROVIDERS: dict[str, type[PaymentProvider]] = {
    Provider.STRIPE: StripeCheckout,
    Provider.YOOKASSA: YooKassaPayments,
    Provider.BANK_TRANSFER: BankTransfer,
}


def provider_for(account: PaymentAccount) -> PaymentProvider:
    return PROVIDERS[account.provider](account)
