from __future__ import annotations

import time
import unicodedata
from datetime import timedelta
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal import ratelimit as allauth_ratelimit
from allauth.mfa.adapter import DefaultMFAAdapter
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import ngettext


def login_failed_key(login: str) -> str:
    """The account a login attempt is counted against, however the address was typed.

    Counting per resolved account (not per typed string) means case, width or spacing
    variants of one address share a budget; an unknown address counts on its own.
    """
    from apps.accounts.models import User

    normalised = unicodedata.normalize("NFKC", login).strip().casefold()
    user_id = User.objects.filter(email__iexact=normalised).values_list("pk", flat=True).first()
    return f"user:{user_id}" if user_id else f"login:{normalised}"


def seconds_until_login_allowed(request, *, key: str) -> int:
    """How long until each of the `login_failed` rates (per address, per account) has room again."""
    now = time.time()
    wait = 0.0
    for rate in allauth_ratelimit.get_rates(app="allauth.account", action="login_failed"):
        cache_key = allauth_ratelimit.get_cache_key(
            request, app="allauth.account", action="login_failed", rate=rate, key=key
        )
        history = [ts for ts in cache.get(cache_key, []) if ts > now - rate.duration]
        if len(history) >= rate.amount:
            # Newest first: room again when the oldest attempt that still counts expires.
            wait = max(wait, history[rate.amount - 1] + rate.duration - now)
    return max(1, int(wait + 0.999))


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # People join Parley by signing up a company (/signup/) or by invitation,
        # both of which create a membership; a bare account without a tenant is useless.
        return False

    def _get_login_attempts_cache_key(self, request, **credentials: Any) -> str:
        return login_failed_key(credentials.get("email", credentials.get("username", "")) or "")

    def pre_authenticate(self, request, **credentials: Any) -> None:
        """allauth's per-address and per-account limits, telling a locked-out person when to come back."""
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            key = self._get_login_attempts_cache_key(request, **credentials)
            seconds = seconds_until_login_allowed(request, key=key)
            minutes = max(1, (seconds + 59) // 60)
            at = formats.time_format(timezone.localtime(timezone.now() + timedelta(seconds=seconds)))
            raise ValidationError(
                ngettext(
                    "Too many failed login attempts. Try again in %(minutes)d minute (at %(time)s).",
                    "Too many failed login attempts. Try again in %(minutes)d minutes (at %(time)s).",
                    minutes,
                )
                % {"minutes": minutes, "time": at},
                code="too_many_login_attempts",
            ) from None


class MFAAdapter(DefaultMFAAdapter):
    pass
