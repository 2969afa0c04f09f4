"""Domain errors of the conversation layer.

Each carries a `code` from docs/protocol.md (the socket's `error` frame and the widget
API's JSON error use it as is), a translated `message`, and the HTTP status a view answers
with. "Missing" and "someone else's" are the same `NotFound`, on purpose.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.http import ApiError


class ConversationError(ApiError):
    """Every HTTP API answers these as `{"error": {"code", "message", "field"}}` (apps/core/http.py)."""

    code = "bad_frame"
    http_status = 400
    default_message = _("The request is not valid.")


class BadInput(ConversationError):
    """A missing or invalid field (`bad_frame`)."""


class NotFound(ConversationError):
    code = "not_found"
    http_status = 404
    default_message = _("Not found.")


class Forbidden(ConversationError):
    code = "forbidden"
    http_status = 403
    default_message = _("You are not allowed to do that.")


class ConversationClosed(ConversationError):
    """The conversation is closed; a visitor who writes again starts a new one (the caller decides)."""

    code = "closed"
    http_status = 409
    default_message = _("This conversation is closed.")


class Conflict(ConversationError):
    """The state changed under the caller (e.g. another operator accepted the chat first)."""

    code = "conflict"
    http_status = 409
    default_message = _("Someone else changed this conversation first.")


class AttachmentTooLarge(ConversationError):
    code = "too_large"
    http_status = 413
    default_message = _("The file is too large.")


class AttachmentTypeRefused(ConversationError):
    code = "unsupported_type"
    http_status = 415
    default_message = _("This type of file cannot be sent.")


class InvalidVisitorToken(ConversationError):
    code = "unauthorized"
    http_status = 401
    default_message = _("Your chat session has expired. Please reload the page.")


class RateLimited(ConversationError):
    code = "rate_limited"
    http_status = 429
    default_message = _("Too many requests. Please wait a moment and try again.")
