"""What the invoices layer broadcasts, and the chat card it keeps.

An invoice is shown in its conversation as a message of kind `invoice` whose `data.invoice`
holds the card (`frames.invoice_payload`). Each status change rewrites that copy in the same
transaction (so a client that loads the history sees the current status) and, after commit,
sends an `invoice` frame to the tenant's operators and to the conversation's visitor.
"""

from __future__ import annotations

import logging

from django_scopes import scopes_disabled

from apps.conversations.events import conversation_group, ops_group, publish_frame
from apps.conversations.models import Message
from apps.core.tenancy import tenant_scope
from apps.invoices import frames
from apps.invoices.models import Invoice

logger = logging.getLogger(__name__)


def card_body(invoice: Invoice) -> str:
    """The card's text for clients without an invoice renderer (and transcripts)."""
    payload = frames.invoice_payload(invoice)
    return f"{payload['number']}: {payload['total_display']}"


def card_post(invoice: Invoice, *, by) -> Message:
    """Post the card into the invoice's conversation (inside the sending transaction)."""
    from apps.conversations import services as conversation_services

    message, _created = conversation_services.message_send(
        tenant=invoice.tenant,
        conversation=invoice.conversation,
        author_type=Message.Author.OPERATOR,
        author=by,
        body=card_body(invoice),
        client_id=f"#invoice-{invoice.pk}",
        kind=Message.Kind.INVOICE,
        data={"invoice": frames.invoice_payload(invoice)},
    )
    invoice.message = message
    Invoice.objects.filter(pk=invoice.pk, tenant_id=invoice.tenant_id).update(message=message)
    return message


def card_refresh(invoice: Invoice) -> None:
    """Keep the card's stored copy current (call inside the transaction that changed the invoice)."""
    if invoice.message_id is None:
        return
    message = Message.objects.filter(pk=invoice.message_id, tenant_id=invoice.tenant_id).first()
    if message is None:
        return
    data = dict(message.data or {})
    data["invoice"] = frames.invoice_payload(invoice)
    Message.objects.filter(pk=message.pk, tenant_id=invoice.tenant_id).update(data=data)


def publish_invoice(invoice_id: int, tenant_id: int) -> None:
    """Broadcast the invoice's current state (reloaded after commit, so never stale)."""
    with scopes_disabled():
        invoice = Invoice.objects.filter(pk=invoice_id, tenant_id=tenant_id).first()
    if invoice is None or invoice.conversation_id is None:
        return
    with tenant_scope(tenant_id):
        frame = frames.invoice_frame(invoice)
    publish_frame(ops_group(tenant_id), frame)
    if invoice.status != Invoice.Status.DRAFT:
        publish_frame(conversation_group(invoice.conversation_id), frame)
