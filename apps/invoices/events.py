"""What the invoices layer broadcasts.

After commit, an `invoice` frame goes to the tenant's operators and to the conversation's
visitor. The card's stored copy (a message of kind `invoice`) is written by services.py.
"""

from __future__ import annotations

import logging

from django_scopes import scopes_disabled

from apps.conversations.events import conversation_group, on_commit, ops_group
from apps.conversations.events import publish_frame_now as publish_frame
from apps.core.tenancy import tenant_scope
from apps.invoices import frames
from apps.invoices.models import Invoice

logger = logging.getLogger(__name__)


@on_commit
def publish_invoice(invoice_id: int, tenant_id: int) -> None:
    """Broadcast the invoice's current state (registered on commit, reloaded then, so never stale)."""
    with scopes_disabled():
        invoice = Invoice.objects.filter(pk=invoice_id, tenant_id=tenant_id).first()
    if invoice is None or invoice.conversation_id is None:
        return
    with tenant_scope(tenant_id):
        frame = frames.invoice_frame(invoice)
    publish_frame(ops_group(tenant_id), frame)
    if invoice.status != Invoice.Status.DRAFT:
        publish_frame(conversation_group(invoice.conversation_id), frame)
