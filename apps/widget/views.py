"""The widget's public pages and files: loader script, config, chat iframe, logo, preview.

Everything the visitor's browser calls as an API (`/widget/api/`) is in apps/widget/api.py.
Thin: they parse, authorize and call selectors."""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from apps.widget import selectors
from apps.widget.catalogue import loader_strings, widget_strings

LOADER_MAX_AGE = 300  # the loader URL is unversioned: keep it short so fixes reach sites soon


# Whole-line comments and indentation: the loader's source stays readable, host pages get it lean.
_LOADER_TRIM = (
    re.compile(r"^[ \t]*/\*.*?\*/[ \t]*\n", re.MULTILINE | re.DOTALL),
    re.compile(r"^[ \t]*//[^\n]*\n", re.MULTILINE),
    re.compile(r"^[ \t]+", re.MULTILINE),
)


@lru_cache(maxsize=4)
def _loader_bytes(mtime: float, path: str) -> tuple[bytes, bytes]:
    source = Path(path).read_text(encoding="utf-8")
    for pattern in _LOADER_TRIM:
        source = pattern.sub("", source)
    raw = source.encode("utf-8")
    return raw, gzip.compress(raw, compresslevel=9, mtime=0)


@require_GET
def loader_js(request: HttpRequest) -> HttpResponse:
    path = finders.find("widget/loader.js")
    if not path:
        raise Http404
    raw, packed = _loader_bytes(Path(path).stat().st_mtime, path)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(packed, content_type="text/javascript; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(raw, content_type="text/javascript; charset=utf-8")
    response["Vary"] = "Accept-Encoding"
    response["Cache-Control"] = f"public, max-age={LOADER_MAX_AGE}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
@cache_control(public=True, max_age=60)
def config_json(request: HttpRequest, key: str) -> JsonResponse:
    tenant = selectors.tenant_for_widget_key(key)
    if tenant is None:
        raise Http404
    config = selectors.widget_config(tenant=tenant)
    config["lang"] = selectors.frame_language(
        widget_language=config["language"], requested=request.GET.get("lang"), default=tenant.default_language
    )
    with translation.override(config["lang"]):
        config["strings"] = loader_strings()
    response = JsonResponse(config)
    # Public and the same for every visitor: any site may read it, caches may share it.
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
@xframe_options_exempt
def frame(request: HttpRequest, key: str) -> HttpResponse:
    tenant = selectors.tenant_for_widget_key(key)
    if tenant is None:
        raise Http404
    config = selectors.widget_config(tenant=tenant)
    language = selectors.frame_language(
        widget_language=config["language"], requested=request.GET.get("lang"), default=tenant.default_language
    )
    with translation.override(language):
        context = {
            "tenant": tenant,
            "config": config,
            "language": language,
            "boot": {
                "config": config,
                "strings": widget_strings(),
                "language": language,
                "api": "/widget/api/",
                "socket": "/ws/widget/",
            },
        }
        response = render(request, "widget/frame.html", context)
    response["Content-Language"] = language
    # The same for every visitor of a site (key, language and host are in the URL).
    response["Cache-Control"] = "public, max-age=60"
    response["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response["Content-Security-Policy"] = "; ".join(
        [
            selectors.frame_ancestors(tenant=tenant),
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob: https:" + (" http:" if settings.DEBUG else ""),
            "media-src 'self' data:",
            f"connect-src 'self' ws://{request.get_host()} wss://{request.get_host()}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )
    return response


LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


@require_GET
def logo(request: HttpRequest, key: str) -> HttpResponse:
    """The tenant's uploaded logo (an image Pillow accepted on upload; never SVG or HTML)."""
    tenant = selectors.tenant_for_widget_key(key)
    if tenant is None:
        raise Http404
    widget = selectors.widget_settings_for(tenant=tenant)
    content_type = LOGO_TYPES.get(Path(widget.logo.name or "").suffix.lower())
    if not widget.logo or content_type is None:
        raise Http404
    try:
        handle = widget.logo.open("rb")
    except OSError:
        raise Http404 from None
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_GET
def preview(request: HttpRequest, key: str) -> HttpResponse:
    """A plain page on Parley's own origin carrying only the snippet: try the widget before
    putting it on a site (Parley's origin is always allowed)."""
    tenant = selectors.tenant_for_widget_key(key)
    if tenant is None:
        raise Http404
    response = render(request, "widget/preview.html", {"tenant": tenant, "base_url": settings.PARLEY_BASE_URL})
    response["Cache-Control"] = "private, no-cache"
    return response
