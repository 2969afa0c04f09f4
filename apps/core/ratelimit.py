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
