"""The interface every payment provider implements.

A provider starts a payment on its hosted page (`start`) and turns an incoming webhook into
a `VerifiedEvent` (`verify`), checking its signature or fetching the payment's status back
from the provider's API. Nothing a browser says (a success redirect) ever marks an invoice
paid: only a `VerifiedEvent` of kind "paid", applied by `services.provider_event_apply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from apps.invoices.models import Invoice, PaymentAccount, PaymentAttempt

EventKind = Literal["paid", "failed", "expired", "ignored"]


@dataclass(frozen=True)
class Checkout:
    """A payment started at the provider: where to send the payer, and how the provider names it."""

    reference: str
    url: str
    expires_at: datetime | None = None


@dataclass(frozen=True)
class VerifiedEvent:
    """A provider's event whose origin was verified. Ids come from the provider's own data."""

    event_id: str
    event_type: str
    kind: EventKind
    reference: str = ""
    tenant_id: int | None = None
    invoice_id: int | None = None
    amount_minor: int | None = None
    currency: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


def metadata_id(value: Any) -> int | None:
    """An id from provider metadata (always strings there); anything else is no id."""
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


class PaymentProvider:
    kind: ClassVar[str]
    # Whether the payer is sent to a page of the provider's (bank transfer: no, they read instructions).
    hosted: ClassVar[bool] = True

    def __init__(self, account: PaymentAccount) -> None:
        self.account = account

    def start(self, *, invoice: Invoice, attempt: PaymentAttempt, return_url: str, cancel_url: str) -> Checkout:
        raise NotImplementedError

    def verify(self, *, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        """Check the event's origin; raise `errors.BadSignature` when it cannot be trusted."""
        raise NotImplementedError
