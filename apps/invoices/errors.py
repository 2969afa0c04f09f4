"""Errors of the invoices layer, in the conversation layer's family (same codes on sockets and HTTP)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.conversations.errors import BadInput, Conflict, ConversationError, Forbidden, NotFound

__all__ = ["BadInput", "Forbidden", "InvalidTransition", "NotFound", "PaymentUnavailable", "BadSignature"]


class InvalidTransition(Conflict):
    """The invoice's status does not allow this (paying a cancelled invoice, cancelling a paid one)."""

    code = "invalid_status"
    default_message = _("The invoice's status does not allow this.")


class PaymentUnavailable(ConversationError):
    """The provider could not be reached or refused to start a payment."""

    code = "payment_unavailable"
    http_status = 502
    default_message = _("The payment service is not available right now. Please try again later.")


class BadSignature(ConversationError):
    """A webhook whose signature (or fetched-back status) could not be verified: nothing is stored."""

    code = "bad_signature"
    http_status = 400
    default_message = _("The event could not be verified.")
