"""Errors of the email bridge; each maps to an SMTP reply and an HTTP status."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.conversations.errors import BadInput, ConversationError


class UnknownRecipient(ConversationError):
    code = "unknown_recipient"
    http_status = 404
    smtp_reply = "550 5.1.1 No such mailbox here"
    default_message = _("No such inbound address.")


class EmailTooLarge(ConversationError):
    code = "too_large"
    http_status = 413
    smtp_reply = "552 5.3.4 Message too big for this system"
    default_message = _("The message is too large.")


class HeaderInjection(BadInput):
    default_message = _("Line breaks are not allowed in this field.")


class EmailFetchFailed(ConversationError):
    """The provider kept the mail in its storage (Amazon SES's S3 action) and it could not be read: the
    webhook answers 502 so the provider delivers the notification again."""

    code = "email_unavailable"
    http_status = 502
    default_message = _("The message could not be read from the provider's storage.")
