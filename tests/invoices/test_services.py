from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from apps.conversations.models import Message
from apps.invoices import services
from apps.invoices.errors import BadInput, Forbidden, InvalidTransition, NotFound
from apps.invoices.models import Invoice, InvoiceAudit, InvoiceLine, InvoiceSettings
from apps.invoices.providers import VerifiedEvent
from tests import factories


def test_an_invoice_gets_lines_and_decimal_totals_rounded_per_line(make_invoice, tenant):
    invoice = make_invoice(send=False)
    assert invoice.status == Invoice.Status.DRAFT
    # 2 x 45.50 = 91.00 + 23% (20.93) and 10.00 untaxed.
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (Decimal("101"), Decimal("20.93"), Decimal("121.93"))
    with scope(tenant=tenant.pk):
        lines = list(InvoiceLine.objects.filter(invoice=invoice))
    assert [line.position for line in lines] == [1, 2]
    assert sum(line.gross for line in lines) == invoice.total


def test_a_yen_invoice_has_no_minor_unit(make_invoice):
    invoice = make_invoice(
        send=False,
        currency="JPY",
        lines=[{"description": "Tea", "quantity": "3", "unit_price": "333", "tax_rate": "8"}],
    )
    assert invoice.total == Decimal("1079")  # 999 + round(79.92) = 999 + 80


def test_a_price_with_more_places_than_the_currency_is_refused(make_invoice):
    with pytest.raises(BadInput) as error:
        make_invoice(send=False, currency="JPY", lines=[{"description": "Tea", "quantity": "1", "unit_price": "1.5"}])
    assert error.value.field == "lines.0.unit_price"


def test_numbers_follow_the_tenants_prefix_and_sequence(make_invoice, tenant):
    with scopes_disabled():
        InvoiceSettings.objects.create(tenant=tenant, number_prefix="FV/2026/")
    first = make_invoice(send=False)
    second = make_invoice(send=False)
    assert (first.number, second.number) == (1, 2)
    assert second.number_display == "FV/2026/2"


def test_refused_input_changes_nothing_and_uses_no_number(make_invoice, tenant):
    make_invoice(send=False)
    for bad in ([{}], [{"description": "", "unit_price": "1"}], [{"description": "x", "unit_price": "-1"}], "lines"):
        with pytest.raises(BadInput):
            make_invoice(send=False, lines=bad)
    with pytest.raises(BadInput):
        make_invoice(send=False, lines=[{"description": "Free", "unit_price": "0"}])  # nothing to pay
    with pytest.raises(BadInput):
        make_invoice(send=False, due_date=(timezone.localdate() - timedelta(days=1)).isoformat())
    assert make_invoice(send=False).number == 2
    with scopes_disabled():
        assert Invoice.objects.filter(tenant=tenant).count() == 2


def test_another_tenants_conversation_or_operator_is_not_found(tenant, other_conversation, operator, other_operator):
    with pytest.raises(NotFound):
        services.invoice_create(
            tenant=tenant,
            conversation=other_conversation,
            created_by=operator,
            lines=[{"description": "x", "unit_price": "1"}],
        )


def test_a_provider_without_an_account_is_refused(make_invoice):
    with pytest.raises(BadInput) as error:
        make_invoice(send=False, provider="stripe")
    assert error.value.field == "provider"


def test_sending_posts_the_card_in_the_chat_and_broadcasts_it_to_both_sides(
    make_invoice, tenant, conversation, publish, layer
):
    with publish():
        invoice = make_invoice()
    assert invoice.status == Invoice.Status.SENT
    with scopes_disabled():
        card = Message.objects.get(pk=invoice.message_id)
    assert card.kind == Message.Kind.INVOICE and card.author_type == Message.Author.OPERATOR
    assert card.data["invoice"]["number"] == invoice.number_display
    assert card.data["invoice"]["status"] == "sent"
    visitor_frames = layer.frames(f"c{conversation.pk}")
    assert {frame["type"] for frame in visitor_frames} == {"message", "invoice"}
    assert [f["invoice"]["status"] for f in visitor_frames if f["type"] == "invoice"] == ["sent"]
    assert [f["type"] for f in layer.frames(f"t{tenant.pk}.ops")] == ["list", "invoice"]
    assert [f["type"] for f in layer.frames(f"c{conversation.pk}.ops")] == ["message"]


def test_a_paid_invoice_cannot_be_cancelled_and_a_cancelled_one_cannot_be_paid(make_invoice, tenant, owner, operator):
    paid = make_invoice()
    services.invoice_mark_paid(tenant=tenant, invoice=paid, by=owner)
    with pytest.raises(InvalidTransition):
        services.invoice_cancel(tenant=tenant, invoice=paid, by=operator)
    cancelled = make_invoice()
    services.invoice_cancel(tenant=tenant, invoice=cancelled, by=operator)
    with pytest.raises(InvalidTransition):
        services.invoice_mark_paid(tenant=tenant, invoice=cancelled, by=owner)
    with pytest.raises(InvalidTransition):
        services.invoice_send(tenant=tenant, invoice=cancelled, by=operator)
    with scopes_disabled():
        assert Invoice.objects.get(pk=paid.pk).status == "paid"
        assert Invoice.objects.get(pk=cancelled.pk).status == "cancelled"


def test_a_draft_cannot_be_paid_and_a_sent_invoice_cannot_be_sent_again(make_invoice, tenant, owner, operator):
    draft = make_invoice(send=False)
    with pytest.raises(InvalidTransition):
        services.invoice_mark_paid(tenant=tenant, invoice=draft, by=owner)
    sent = services.invoice_send(tenant=tenant, invoice=draft, by=operator)
    with pytest.raises(InvalidTransition):
        services.invoice_send(tenant=tenant, invoice=sent, by=operator)


def test_only_an_admin_confirms_a_bank_transfer_and_it_is_audited(make_invoice, tenant, owner, operator):
    invoice = make_invoice()
    with pytest.raises(Forbidden):
        services.invoice_mark_paid(tenant=tenant, invoice=invoice, by=operator)
    services.invoice_mark_paid(tenant=tenant, invoice=invoice, by=owner, note="Arrived 1 Dec")
    with scopes_disabled():
        entry = InvoiceAudit.objects.filter(invoice=invoice, action="marked_paid").get()
        invoice.refresh_from_db()
        assert entry.actor == owner and entry.note == "Arrived 1 Dec"  # a foreign key: loaded here
    assert invoice.status == "paid" and invoice.paid_at is not None


def test_a_card_payment_is_never_marked_paid_by_hand(make_invoice, tenant, owner, stripe_account):
    invoice = make_invoice(provider="stripe")
    with pytest.raises(InvalidTransition):
        services.invoice_mark_paid(tenant=tenant, invoice=invoice, by=owner)


def test_overdue_sent_invoices_expire(make_invoice, tenant):
    invoice = make_invoice()
    draft = make_invoice(send=False)
    with scopes_disabled():
        Invoice.objects.filter(pk__in=[invoice.pk, draft.pk]).update(due_date=timezone.localdate() - timedelta(days=1))
    assert services.invoice_expire_overdue(tenant=tenant) == 1
    with scopes_disabled():
        assert Invoice.objects.get(pk=invoice.pk).status == "expired"
        assert Invoice.objects.get(pk=draft.pk).status == "draft"


def test_an_event_for_a_cancelled_invoice_is_recorded_and_flags_a_refund(
    make_invoice, tenant, operator, stripe_account
):
    invoice = make_invoice(provider="stripe")
    services.invoice_cancel(tenant=tenant, invoice=invoice, by=operator)
    event = VerifiedEvent(
        event_id="evt_1",
        event_type="checkout.session.completed",
        kind="paid",
        reference="cs_1",
        tenant_id=tenant.pk,
        invoice_id=invoice.pk,
        amount_minor=12193,
        currency="EUR",
    )
    row, created = services.provider_event_apply(tenant=tenant, account=stripe_account, event=event)
    assert created and row.outcome == "refund_due"
    with scopes_disabled():
        invoice.refresh_from_db()
    assert invoice.status == "cancelled" and invoice.refund_due


def test_an_operator_of_another_tenant_cannot_act(make_invoice, tenant, other_operator):
    invoice = make_invoice()
    with pytest.raises(NotFound):
        services.invoice_cancel(tenant=tenant, invoice=invoice, by=other_operator)


def test_another_tenants_invoice_is_not_found(tenant, other_tenant, operator):
    with scopes_disabled():
        theirs = factories.InvoiceFactory(tenant=other_tenant)
    with pytest.raises(NotFound):
        services.invoice_cancel(tenant=tenant, invoice=theirs, by=operator)
