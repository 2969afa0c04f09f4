"""Every state change of invoices, payment attempts and provider events.

Keyword-only, typed functions that take the tenant, run inside its scope, check that every
object they are handed belongs to it (another tenant's is `NotFound`), write in one
transaction and announce the result on commit (`events`).

Numbering: `invoice_create` locks the tenant's `InvoiceSettings` row (`SELECT ... FOR
UPDATE`) and takes `last_number + 1` in the transaction that inserts the invoice, so
concurrent creations get distinct, gapless numbers and a failed insert gives its number back.

Status (`TRANSITIONS`): draft -> sent -> paid; draft or sent or expired -> cancelled;
sent -> expired when the due date passes. Paid and cancelled are final. An invoice becomes
paid only through `provider_event_apply` with a verified provider event, or through
`invoice_mark_paid` by an admin for a bank transfer (audited).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Membership, Tenant
from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation, Message
from apps.core.tenancy import scoped_service, tenant_scope
from apps.invoices import events, frames
from apps.invoices.errors import BadInput, Forbidden, InvalidTransition, NotFound, PaymentUnavailable
from apps.invoices.models import (
    Invoice,
    InvoiceAudit,
    InvoiceLine,
    InvoiceSettings,
    PaymentAccount,
    PaymentAttempt,
    Provider,
    ProviderEvent,
)
from apps.invoices.money import MAX_AMOUNT, MINOR_UNITS, MoneyError, line_amounts, minor_units, parse_decimal, to_minor
from apps.invoices.providers import VerifiedEvent, provider_for

Status = Invoice.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.DRAFT: frozenset({Status.SENT, Status.CANCELLED}),
    Status.SENT: frozenset({Status.PAID, Status.CANCELLED, Status.EXPIRED}),
    # A payment started before the due date may still be confirmed after it.
    Status.EXPIRED: frozenset({Status.PAID, Status.CANCELLED}),
    Status.PAID: frozenset(),
    Status.CANCELLED: frozenset(),
}
MAX_LINES = 50
DESCRIPTION_MAX_CHARS = 300
MAX_DUE_DAYS = 366
# An open payment page is offered again while it has at least this long to live.
ATTEMPT_REUSE_MARGIN = timedelta(minutes=10)
LANGUAGES = {code for code, _name in settings.LANGUAGES}


# --- the card in the chat: a message of kind `invoice` whose `data.invoice` holds the card;
# each status change rewrites it in the same transaction, so a history load sees the status.


def _card_body(invoice: Invoice) -> str:
    """The card's text for clients without an invoice renderer (and transcripts)."""
    payload = frames.invoice_payload(invoice)
    return f"{payload['number']}: {payload['total_display']}"


def _card_post(invoice: Invoice, *, by) -> Message:
    """Post the card into the invoice's conversation (inside the sending transaction)."""
    message, _created = conversation_services.message_send(
        tenant=invoice.tenant,
        conversation=invoice.conversation,
        author_type=Message.Author.OPERATOR,
        author=by,
        body=_card_body(invoice),
        client_id=f"#invoice-{invoice.pk}",
        kind=Message.Kind.INVOICE,
        data={"invoice": frames.invoice_payload(invoice)},
    )
    invoice.message = message
    Invoice.objects.filter(pk=invoice.pk, tenant_id=invoice.tenant_id).update(message=message)
    return message


def _card_refresh(invoice: Invoice) -> None:
    """Keep the card's stored copy current (call inside the transaction that changed the invoice)."""
    if invoice.message_id is None:
        return
    message = Message.objects.filter(pk=invoice.message_id, tenant_id=invoice.tenant_id).first()
    if message is None:
        return
    data = dict(message.data or {})
    data["invoice"] = frames.invoice_payload(invoice)
    Message.objects.filter(pk=message.pk, tenant_id=invoice.tenant_id).update(data=data)


def _own(tenant: Tenant, obj: Any, model: type) -> None:
    if not isinstance(obj, model) or obj.pk is None or obj.tenant_id != tenant.pk:
        raise NotFound()


def _member(tenant: Tenant, membership: Any) -> Membership:
    _own(tenant, membership, Membership)
    if not membership.is_active:
        raise Forbidden(_("This operator is not active."))
    return membership


def _lock(tenant: Tenant, invoice: Invoice) -> Invoice:
    """The invoice reloaded with its row locked until the transaction ends (call inside atomic)."""
    _own(tenant, invoice, Invoice)
    try:
        return Invoice.objects.select_for_update().get(pk=invoice.pk, tenant=tenant)
    except Invoice.DoesNotExist:
        raise NotFound() from None


def _move(invoice: Invoice, to: str) -> None:
    if to not in TRANSITIONS[invoice.status]:
        raise InvalidTransition()
    invoice.status = to


def _audit(tenant: Tenant, invoice: Invoice, action: str, *, actor=None, event=None, note: str = "") -> None:
    InvoiceAudit.objects.create(tenant=tenant, invoice=invoice, action=action, actor=actor, event=event, note=note)


def _announce(invoice: Invoice) -> None:
    """Refresh the chat card's stored copy and broadcast the invoice after commit."""
    _card_refresh(invoice)
    events.publish_invoice(invoice.pk, invoice.tenant_id)


def today_utc() -> date:
    return timezone.localdate(timezone.now(), timezone=timezone.get_default_timezone())


# --- settings --------------------------------------------------------------------------------


def invoice_settings_for(*, tenant: Tenant) -> InvoiceSettings:
    """The tenant's invoicing details, created with defaults the first time they are needed."""
    with tenant_scope(tenant):
        found = InvoiceSettings.objects.filter(tenant=tenant).first()
        if found is not None:
            return found
        try:
            with transaction.atomic():
                return InvoiceSettings.objects.create(tenant=tenant)
        except IntegrityError:  # created concurrently
            return InvoiceSettings.objects.get(tenant=tenant)


# --- input cleaning --------------------------------------------------------------------------


def _money_field(value: Any, *, field: str, places: int, minimum: Decimal, maximum: Decimal) -> Decimal:
    try:
        return parse_decimal(value, field=field, places=places, minimum=minimum, maximum=maximum)
    except MoneyError as error:
        raise BadInput(error.message, field=error.field) from None


def _lines(raw: Any, currency: str) -> list[dict[str, Any]]:
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence) or not raw:
        raise BadInput(_("Add at least one line."), field="lines")
    if len(raw) > MAX_LINES:
        raise BadInput(_("At most %(max)s lines.") % {"max": MAX_LINES}, field="lines")
    cleaned = []
    places = minor_units(currency)
    for index, line in enumerate(raw):
        prefix = f"lines.{index}."
        if not isinstance(line, Mapping):
            raise BadInput(_("Each line needs a description, a quantity and a price."), field=f"lines.{index}")
        description = line.get("description")
        if not isinstance(description, str) or not " ".join(description.split()):
            raise BadInput(_("This field is required."), field=prefix + "description")
        description = " ".join(description.split())
        if len(description) > DESCRIPTION_MAX_CHARS:
            raise BadInput(
                _("This field is too long (at most %(max)s characters).") % {"max": DESCRIPTION_MAX_CHARS},
                field=prefix + "description",
            )
        quantity = _money_field(
            line.get("quantity", 1),
            field=prefix + "quantity",
            places=3,
            minimum=Decimal("0.001"),
            maximum=Decimal(10**6),
        )
        unit_price = _money_field(
            line.get("unit_price"), field=prefix + "unit_price", places=places, minimum=Decimal(0), maximum=MAX_AMOUNT
        )
        tax_rate = _money_field(
            line.get("tax_rate", 0) or 0, field=prefix + "tax_rate", places=2, minimum=Decimal(0), maximum=Decimal(100)
        )
        amounts = line_amounts(quantity=quantity, unit_price=unit_price, tax_rate=tax_rate, currency=currency)
        cleaned.append(
            {
                "description": description,
                "quantity": quantity,
                "unit_price": unit_price,
                "tax_rate": tax_rate,
                **amounts,
            }
        )
    return cleaned


def _due_date(value: Any, *, default_days: int) -> date:
    today = timezone.localdate()
    if value in (None, ""):
        return today + timedelta(days=default_days)
    if isinstance(value, str):
        try:
            value = parse_date(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, date):
        raise BadInput(_("Enter a valid date."), field="due_date")
    if value < today or value > today + timedelta(days=MAX_DUE_DAYS):
        raise BadInput(_("The due date must be between today and a year from now."), field="due_date")
    return value


def _language(visitor_language: str, tenant: Tenant) -> str:
    code = (visitor_language or "").split("-")[0].lower()
    if code in LANGUAGES:
        return code
    return tenant.default_language if tenant.default_language in LANGUAGES else settings.LANGUAGE_CODE


def _provider(tenant: Tenant, value: Any, default: str) -> str:
    provider = value or default
    if provider not in Provider.values:
        raise BadInput(_("Choose a payment method."), field="provider")
    if provider == Provider.BANK_TRANSFER:
        return provider
    if not PaymentAccount.objects.filter(tenant=tenant, provider=provider, is_active=True).exists():
        raise BadInput(
            _("This payment method is not set up. An admin adds it under Payment accounts."), field="provider"
        )
    return provider


def _text(value: Any, *, field: str, max_chars: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadInput(_("This field must be text."), field=field)
    value = " ".join(value.split())
    if len(value) > max_chars:
        raise BadInput(_("This field is too long (at most %(max)s characters).") % {"max": max_chars}, field=field)
    return value


# --- invoices --------------------------------------------------------------------------------


@scoped_service
def invoice_create(
    *,
    tenant: Tenant,
    conversation: Conversation,
    created_by: Membership,
    lines: Sequence[Mapping[str, Any]],
    currency: str | None = None,
    due_date: date | str | None = None,
    provider: str | None = None,
    buyer_name: str | None = None,
) -> Invoice:
    """A draft invoice for the conversation's visitor, numbered next in the tenant's sequence."""
    _own(tenant, conversation, Conversation)
    _member(tenant, created_by)
    invoice_settings = invoice_settings_for(tenant=tenant)
    currency = currency or invoice_settings.default_currency
    if currency not in MINOR_UNITS:
        raise BadInput(_("Choose a currency."), field="currency")
    cleaned = _lines(lines, currency)
    due = _due_date(due_date, default_days=invoice_settings.payment_days)
    provider = _provider(tenant, provider, invoice_settings.default_provider)
    subtotal = sum((line["net"] for line in cleaned), Decimal(0))
    tax_total = sum((line["tax"] for line in cleaned), Decimal(0))
    total = subtotal + tax_total
    if total <= 0:
        raise BadInput(_("The total must be more than zero."), field="lines")
    if total > MAX_AMOUNT:
        raise BadInput(_("The total is too large."), field="lines")
    visitor = conversation.visitor
    buyer = _text(buyer_name, field="buyer_name", max_chars=200) or visitor.name

    with transaction.atomic():
        sequence = InvoiceSettings.objects.select_for_update().get(pk=invoice_settings.pk, tenant=tenant)
        sequence.last_number += 1
        sequence.save(update_fields=["last_number"])
        invoice = Invoice.objects.create(
            tenant=tenant,
            number=sequence.last_number,
            number_display=f"{sequence.number_prefix}{sequence.last_number}",
            conversation=conversation,
            visitor=visitor,
            created_by=created_by,
            buyer_name=buyer,
            buyer_email=visitor.email,
            currency=currency,
            language=_language(visitor.language, tenant),
            provider=provider,
            subtotal=subtotal,
            tax_total=tax_total,
            total=total,
            seller=sequence.seller_snapshot() | {"name": tenant.name},
            issue_date=timezone.localdate(),
            due_date=due,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(tenant=tenant, invoice=invoice, position=position, **line)
            for position, line in enumerate(cleaned, start=1)
        )
        _audit(tenant, invoice, "created", actor=created_by)
    return invoice


@scoped_service
def invoice_send(*, tenant: Tenant, invoice: Invoice, by: Membership) -> Invoice:
    """Issue a draft: it appears in the conversation as a card on both sides."""
    _member(tenant, by)
    with transaction.atomic():
        locked = _lock(tenant, invoice)
        _move(locked, Status.SENT)
        locked.sent_at = timezone.now()
        locked.issue_date = timezone.localdate()
        locked.save(update_fields=["status", "sent_at", "issue_date"])
        _audit(tenant, locked, "sent", actor=by)
        _card_post(locked, by=by)
        _announce(locked)
    return locked


@scoped_service
def invoice_cancel(*, tenant: Tenant, invoice: Invoice, by: Membership, note: str = "") -> Invoice:
    """Cancel an unpaid invoice. A payment confirmed later is recorded and flagged for a refund."""
    _member(tenant, by)
    with transaction.atomic():
        locked = _lock(tenant, invoice)
        _move(locked, Status.CANCELLED)
        locked.cancelled_at = timezone.now()
        locked.save(update_fields=["status", "cancelled_at"])
        _audit(tenant, locked, "cancelled", actor=by, note=_text(note, field="note", max_chars=500))
        _announce(locked)
    return locked


@scoped_service
def invoice_mark_paid(*, tenant: Tenant, invoice: Invoice, by: Membership, note: str = "") -> Invoice:
    """An admin confirms that a bank transfer arrived; the history records who and when."""
    _member(tenant, by)
    if not by.is_admin:
        raise Forbidden(_("Only an admin can confirm a bank transfer."))
    with transaction.atomic():
        locked = _lock(tenant, invoice)
        if locked.provider != Provider.BANK_TRANSFER:
            raise InvalidTransition(_("Only a bank transfer is confirmed by hand; card payments confirm themselves."))
        _move(locked, Status.PAID)
        locked.paid_at = timezone.now()
        locked.provider_reference = locked.number_display
        locked.save(update_fields=["status", "paid_at", "provider_reference"])
        _audit(tenant, locked, "marked_paid", actor=by, note=_text(note, field="note", max_chars=500))
        _announce(locked)
    return locked


@scoped_service
def invoice_expire_overdue(*, tenant: Tenant) -> int:
    """Expire the tenant's sent invoices whose due date has passed (the beat sweeper calls this)."""
    expired = 0
    today = timezone.localdate()
    for pk in Invoice.objects.filter(tenant=tenant, status=Status.SENT, due_date__lt=today).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            locked = Invoice.objects.select_for_update().filter(tenant=tenant, pk=pk, status=Status.SENT).first()
            if locked is None:
                continue
            _move(locked, Status.EXPIRED)
            locked.save(update_fields=["status"])
            _audit(tenant, locked, "expired")
            _announce(locked)
            expired += 1
    return expired


# --- payments --------------------------------------------------------------------------------


@scoped_service
def payment_start(*, tenant: Tenant, invoice: Invoice, return_url: str, cancel_url: str) -> PaymentAttempt:
    """A payment page for the invoice: an open one still valid, or a new attempt at the provider.

    The attempt (and its idempotency key) is stored before the provider is called, and the
    call happens outside any transaction, so no row lock is held over the network.
    """
    _own(tenant, invoice, Invoice)
    invoice = Invoice.objects.get(pk=invoice.pk, tenant=tenant)
    if invoice.status != Status.SENT:
        raise InvalidTransition()
    account = PaymentAccount.objects.filter(tenant=tenant, provider=invoice.provider, is_active=True).first()
    if invoice.provider == Provider.BANK_TRANSFER:
        account = account or PaymentAccount(tenant=tenant, provider=Provider.BANK_TRANSFER)
    if account is None:
        raise PaymentUnavailable()
    provider = provider_for(account)
    if not provider.hosted:
        raise InvalidTransition(_("This invoice is paid by bank transfer."))
    reusable = (
        PaymentAttempt.objects.filter(
            tenant=tenant,
            invoice=invoice,
            provider=invoice.provider,
            status=PaymentAttempt.Status.OPEN,
            expires_at__gt=timezone.now() + ATTEMPT_REUSE_MARGIN,
        )
        .exclude(url="")
        .order_by("-created_at")
        .first()
    )
    if reusable is not None:
        return reusable
    attempt = PaymentAttempt.objects.create(
        tenant=tenant,
        invoice=invoice,
        provider=invoice.provider,
        idempotency_key=f"parley-{tenant.pk}-{invoice.pk}-{uuid.uuid4().hex}",
    )
    try:
        checkout = provider.start(invoice=invoice, attempt=attempt, return_url=return_url, cancel_url=cancel_url)
    except PaymentUnavailable:
        attempt.status = PaymentAttempt.Status.FAILED
        attempt.save(update_fields=["status"])
        raise
    attempt.provider_reference = checkout.reference
    attempt.url = checkout.url
    attempt.expires_at = checkout.expires_at
    attempt.save(update_fields=["provider_reference", "url", "expires_at"])
    return attempt


ATTEMPT_STATUS_FOR = {
    "paid": PaymentAttempt.Status.SUCCEEDED,
    "failed": PaymentAttempt.Status.FAILED,
    "expired": PaymentAttempt.Status.EXPIRED,
}


@scoped_service
def provider_event_apply(
    *, tenant: Tenant, account: PaymentAccount, event: VerifiedEvent
) -> tuple[ProviderEvent, bool]:
    """Store a verified provider event once by its id and apply it; return `(event row, created)`.

    A replay finds the stored row and changes nothing. An event naming another tenant's
    invoice (or none) is stored as `not_found` and does nothing. A payment for a cancelled
    invoice is stored and flags the invoice for a refund instead of marking it paid. A
    payment whose amount or currency differs from the invoice is stored as `mismatch`.
    """
    _own(tenant, account, PaymentAccount)
    Outcome = ProviderEvent.Outcome
    with transaction.atomic():
        existing = ProviderEvent.objects.filter(
            tenant=tenant, provider=account.provider, event_id=event.event_id
        ).first()
        if existing is not None:
            return existing, False
        row = ProviderEvent(
            tenant=tenant,
            provider=account.provider,
            event_id=event.event_id,
            event_type=event.event_type,
            payload=event.payload,
            outcome=Outcome.IGNORED,
        )
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:  # the same event delivered twice at once: the other delivery applies it
            return ProviderEvent.objects.get(tenant=tenant, provider=account.provider, event_id=event.event_id), False

        invoice = None
        if event.tenant_id == tenant.pk and event.invoice_id is not None:
            invoice = (
                Invoice.objects.select_for_update()
                .filter(tenant=tenant, pk=event.invoice_id, provider=account.provider)
                .first()
            )
        if invoice is None:
            row.outcome = Outcome.NOT_FOUND
            row.save(update_fields=["outcome"])
            return row, True
        row.invoice = invoice
        attempt = (
            PaymentAttempt.objects.select_for_update()
            .filter(tenant=tenant, invoice=invoice, provider=account.provider, provider_reference=event.reference)
            .first()
            if event.reference
            else None
        )
        if attempt is not None and event.kind in ATTEMPT_STATUS_FOR and attempt.status == PaymentAttempt.Status.OPEN:
            attempt.status = ATTEMPT_STATUS_FOR[event.kind]
            attempt.save(update_fields=["status"])

        if event.kind != "paid":
            row.outcome = Outcome.APPLIED if event.kind in ATTEMPT_STATUS_FOR else Outcome.IGNORED
        elif event.currency != invoice.currency or event.amount_minor != to_minor(invoice.total, invoice.currency):
            row.outcome = Outcome.MISMATCH
            _audit(tenant, invoice, "payment_mismatch", event=row, note=event.reference)
        elif invoice.status == Status.CANCELLED or (
            invoice.status == Status.PAID and invoice.provider_reference != event.reference
        ):
            # Money arrived for an invoice that must not take it: record it and flag a refund.
            row.outcome = Outcome.REFUND_DUE
            invoice.refund_due = True
            invoice.save(update_fields=["refund_due"])
            _audit(tenant, invoice, "refund_due", event=row, note=event.reference)
        elif invoice.status == Status.PAID:
            row.outcome = Outcome.IGNORED
        else:
            _move(invoice, Status.PAID)
            invoice.paid_at = timezone.now()
            invoice.provider_reference = event.reference
            invoice.save(update_fields=["status", "paid_at", "provider_reference"])
            row.outcome = Outcome.APPLIED
            _audit(tenant, invoice, "paid", event=row, note=event.reference)
            _announce(invoice)
        row.save(update_fields=["outcome", "invoice"])
    return row, True
