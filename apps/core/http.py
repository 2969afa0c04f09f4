"""The HTTP edge every JSON API shares: one body reader, one size limit, one error shape.

Every JSON API (the dashboard's `/app/api/`, the widget's `/widget/api/`, the email
bridge's and invoices' endpoints) reads its body with `read_json` and answers every
error as

    {"error": {"code": "<protocol code>", "message": "<translated text>", "field": "<name or null>"}}

with the codes of docs/protocol.md. An `ApiError` carries the three and its HTTP status;
the conversation layer's domain errors are `ApiError`s, so a service's refusal reaches
the client unchanged, whichever API called it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _

from apps.core.jsonbounds import JSONTooLarge, loads_bounded

# One limit for every JSON request body (the largest legitimate one, a canned reply, is far smaller).
JSON_BODY_MAX_BYTES = 64 * 1024


class ApiError(Exception):
    """An error with a protocol `code`, a translated `message`, an optional `field` and an HTTP status."""

    code = "bad_request"
    http_status = 400
    default_message = _("The request is not valid.")

    def __init__(self, message: Any = None, *, field: str | None = None, code: str | None = None) -> None:
        self.message = str(message if message is not None else self.default_message)
        self.field = field
        if code is not None:
            self.code = code
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field}


class BadBody(ApiError):
    """The body is not what the endpoint reads (too large, not JSON, not an object): the protocol's `bad_frame`."""

    code = "bad_frame"


def json_response(data: dict[str, Any], status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def error_body(code: str, message: Any, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": str(message), "field": field}}


def error_response(exc: Exception) -> JsonResponse:
    """The one JSON error answer, for an `ApiError`, a Django `ValidationError` or `PermissionDenied`."""
    if isinstance(exc, ApiError):
        return json_response({"error": exc.as_dict()}, status=exc.http_status)
    if isinstance(exc, ValidationError):
        field, message = None, None
        if hasattr(exc, "error_dict"):
            for name, errors in exc.message_dict.items():
                field, message = (None if name == "__all__" else name), errors[0]
                break
        else:
            message = exc.messages[0] if exc.messages else None
        return json_response(error_body("bad_request", message or _("The request is not valid."), field), status=400)
    if isinstance(exc, PermissionDenied):
        return json_response(error_body("forbidden", _("You are not allowed to do that.")), status=403)
    raise TypeError(f"not an API error: {exc!r}")


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, read within JSON_BODY_MAX_BYTES (size and nesting bounded before parsing).

    Any content type: the widget's loader posts text/plain with sendBeacon() (no preflight).
    Raises `BadBody` (400 `bad_frame`).
    """
    try:
        data = loads_bounded(request.body or b"{}", max_bytes=JSON_BODY_MAX_BYTES)
    except JSONTooLarge:
        raise BadBody(_("The request is too large.")) from None
    except ValueError:
        raise BadBody(_("The request is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise BadBody(_("The request must be a JSON object."))
    return data
