"""Fixed-window rate limits kept in the shared cache (Redis), so every web process counts together.

The widget's HTTP endpoints are public: anyone with a page can call them. A limit per
widget key and client address (session) or per visitor (the rest) keeps a script from
creating visitors or filling storage, without getting in the way of a real visitor.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def rate_limit_exceeded(key: str, *, limit: int, period: int) -> bool:
    """Count one hit on `key`; True once more than `limit` hits fell in the current `period` seconds."""
    window = int(time.time() // period)
    cache_key = f"ratelimit:{key}:{window}"
    try:
        if cache.add(cache_key, 1, timeout=period + 1):
            return False
        return cache.incr(cache_key) > limit
    except ValueError:
        # The key expired between add() and incr(): this hit starts a new window.
        return False
    except Exception:
        # A cache outage must not take the widget down with it: fail open, loudly.
        logger.exception("rate limit cache unavailable")
        return False


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


class OperatorApiRateLimitMiddleware:
    """A budget per signed-in person for the dashboard's JSON API (`/app/api/`), across processes.

    One place for every endpoint under the prefix, present and future: a script or a stuck
    client gets 429 `rate_limited` with `Retry-After`, the rest of the team is unaffected.
    """

    PREFIX = "/app/api/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if request.path.startswith(self.PREFIX) and user is not None and user.is_authenticated:
            from django.conf import settings
            from django.utils.translation import gettext as _

            from apps.core.http import error_body, json_response

            limit = settings.PARLEY_OPERATOR_API_PER_MINUTE
            if rate_limit_exceeded(f"app-api:u{user.pk}", limit=limit, period=60):
                response = json_response(
                    error_body("rate_limited", _("Too many requests; try again in a minute.")), status=429
                )
                response["Retry-After"] = str(60 - int(time.time()) % 60)
                return response
        return self.get_response(request)
