"""HTTP endpoints of the widget: thin, they authenticate, parse and call services/selectors."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def attachment_download(request: HttpRequest, token: str) -> HttpResponse:
    raise Http404
