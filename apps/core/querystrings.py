"""Query strings and paths that cannot reach the database, refused at the edge.

PostgreSQL refuses NUL in any text value (psycopg raises `DataError`), so one `%00` in a
query parameter or a path segment that a view hands to a filter (`?lang=%00`, `?q=%00`, an
admin search, a widget key in the path) used to be a 500. Rather than trusting every view
to check every parameter, the request is refused before any view runs, with the error shape
of the API it was sent to. Bodies are covered elsewhere: JSON by `apps.core.jsonbounds`
(NUL becomes U+FFFD), forms by Django's `ProhibitNullCharactersValidator`.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext as _

from apps.core.http import error_body, error_response, json_response


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path:
        return True
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists())


def _refusal(request: HttpRequest) -> HttpResponse:
    message = _("The address holds a character that is not allowed.")
    # The one JSON error shape (apps/core/http.py), with each API's code for bad input.
    if request.path.startswith("/app/api/"):
        return json_response(error_body("bad_request", message), status=400)
    if request.path.startswith("/widget/api/"):
        from apps.conversations.errors import BadInput

        return error_response(BadInput(message))
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


class RefuseNulMiddleware:
    """400 for a request whose path or query string holds NUL (`%00`), before any view runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            return _refusal(request)
        return self.get_response(request)
