"""Every write of visitor social login: providers a tenant offers, login attempts, their completion.

The flow: the widget asks `visitor_login_start` for a popup URL (a single-use nonce, minutes
long); the popup on Parley's own origin (`views.begin`) hands the browser to allauth for that
provider, with the attempt noted in the popup's session; allauth's real views talk to the
provider; its answer reaches `adapter.VisitorLoginAdapter.pre_social_login`, which calls
`visitor_login_complete` and never lets allauth create or log in a user. The proven account
joins the visitor (`apps.identity.services.visitor_identity_link`, source `social:<provider>`):
the same account on another device is the same visitor, in this tenant only. The result goes
to the widget over its socket (`v<visitor>`), with a fresh visitor token when the visitor changed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Tenant
from apps.conversations import events
from apps.conversations.errors import NotFound, RateLimited
from apps.conversations.models import Visitor
from apps.conversations.tokens import visitor_token_issue
from apps.core.ratelimit import rate_limit_exceeded
from apps.core.tenancy import scopes_disabled, tenant_scope
from apps.identity.claims import Claims
from apps.identity.services import visitor_identity_link
from apps.invoices import keys
from apps.visitorlogin.models import Provider, VisitorLoginAttempt, VisitorLoginProvider

ATTEMPTS_PER_VISITOR_PER_HOUR = 30


class LoginRefused(Exception):
    """The popup's attempt is unknown, used, expired or for another tenant: nothing is linked."""


def attempt_minutes() -> int:
    return int(getattr(settings, "PARLEY_VISITOR_LOGIN_MINUTES", 5))


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("utf-8", "surrogatepass")).hexdigest()


def source_for(provider: str) -> str:
    return f"social:{provider}"


def visitor_login_provider_save(
    *,
    tenant: Tenant,
    provider: str,
    client_id: str,
    secret: str = "",
    key: str = "",
    enabled: bool = True,
    provider_settings: dict | None = None,
) -> VisitorLoginProvider:
    """Create or change the tenant's client for `provider`; an empty `secret` keeps the stored one."""
    if provider not in Provider.values:
        raise NotFound()
    with tenant_scope(tenant), transaction.atomic():
        row = VisitorLoginProvider.objects.select_for_update().filter(tenant=tenant, provider=provider).first()
        row = row or VisitorLoginProvider(tenant=tenant, provider=provider)
        row.client_id, row.key, row.enabled = client_id.strip(), key.strip(), enabled
        if provider_settings is not None:
            row.settings = provider_settings
        if secret:
            row.secret_encrypted = keys.encrypt(secret.strip())
        row.updated_at = timezone.now()
        row.save()
    return row


def visitor_login_start(*, tenant: Tenant, visitor: Visitor, provider: str) -> str:
    """A popup URL on Parley's origin for the visitor to log in with `provider` (offered by the tenant)."""
    if visitor.tenant_id != tenant.pk:
        raise NotFound()
    with tenant_scope(tenant):
        if not VisitorLoginProvider.objects.filter(tenant=tenant, provider=provider, enabled=True).exists():
            raise NotFound()
        if rate_limit_exceeded(
            f"visitor-login:{tenant.pk}:{visitor.pk}", limit=ATTEMPTS_PER_VISITOR_PER_HOUR, period=3600
        ):
            raise RateLimited()
        nonce = secrets.token_urlsafe(32)
        with transaction.atomic():
            VisitorLoginAttempt.objects.create(
                tenant=tenant,
                visitor=visitor,
                provider=provider,
                nonce_hash=nonce_hash(nonce),
                expires_at=timezone.now() + timedelta(minutes=attempt_minutes()),
            )
    return settings.PARLEY_BASE_URL + reverse("visitorlogin:begin", args=[nonce])


def attempt_for_nonce(nonce: str) -> VisitorLoginAttempt:
    """The attempt a popup opened with, if unused and not expired (the nonce names its tenant)."""
    if not isinstance(nonce, str) or not 20 <= len(nonce) <= 64:
        raise LoginRefused()
    with scopes_disabled():
        attempt = VisitorLoginAttempt.objects.filter(nonce_hash=nonce_hash(nonce)).select_related("tenant").first()
    if attempt is None or attempt.used_at is not None or attempt.expires_at <= timezone.now():
        raise LoginRefused()
    if not attempt.tenant.is_active:
        raise LoginRefused()
    return attempt


@dataclass(frozen=True)
class SocialProfile:
    provider: str
    uid: str
    name: str = ""
    email: str = ""
    avatar_url: str = ""


def _clean_email(value: str) -> str:
    value = (value or "").strip().lower()[:254]
    try:
        validate_email(value)
    except DjangoValidationError:
        return ""
    return value


def _clean_url(value: str) -> str:
    value = (value or "").strip()
    if not value.startswith("https://") or len(value) > 2000:
        return ""
    try:
        URLValidator(schemes=["https"])(value)
    except DjangoValidationError:
        return ""
    return value


def visitor_login_complete(*, tenant_id: int, attempt_id: int, profile: SocialProfile) -> Visitor:
    """Consume the attempt (once, before it expires) and join the provider's account to its visitor.

    Returns the visitor that now holds the account (another device's visitor if it logged in
    with this account before; this one's history then joins it). Announces the result on the
    visitor's sockets.
    """
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None or not profile.uid:
        raise LoginRefused()
    now = timezone.now()
    with tenant_scope(tenant), transaction.atomic():
        attempt = VisitorLoginAttempt.objects.select_for_update().filter(tenant=tenant, pk=attempt_id).first()
        if attempt is None or attempt.used_at is not None or attempt.expires_at <= now:
            raise LoginRefused()
        if attempt.provider != profile.provider:
            raise LoginRefused()
        attempt.used_at = now
        attempt.save(update_fields=["used_at"])
        visitor = Visitor.objects.filter(tenant=tenant, pk=attempt.visitor_id).first()
        if visitor is None:
            raise LoginRefused()
        before = visitor.pk
        claims = Claims(
            subject=str(profile.uid)[:255],
            name=" ".join(profile.name.split())[:120],
            email=_clean_email(profile.email),
            # The provider vouches for its user's name and email: they replace what the visitor typed.
            details_signed=True,
        )
        owner = visitor_identity_link(
            tenant=tenant,
            visitor=visitor,
            source=source_for(profile.provider),
            claims=claims,
            avatar_url=_clean_url(profile.avatar_url),
        )
        frame = {
            "type": "identity",
            "event": "logged_in",
            "provider": profile.provider,
            "visitor": {
                "id": owner.pk,
                "anonymous_id": owner.anonymous_id,
                "name": owner.name,
                "email": owner.email,
                "avatar_url": owner.avatar_url,
            },
        }
        if owner.pk != before:
            frame["token"] = visitor_token_issue(tenant=tenant, visitor=owner)
        events.frame_published(events.visitor_group(before), frame)
    return owner


def refusal_text() -> str:
    return _("This login link has expired or was already used. Close this window and try again from the chat.")


def failure_text() -> str:
    return _("The login did not complete. Close this window and try again from the chat.")


def provider_login_url(attempt: VisitorLoginAttempt) -> str:
    """A tenant's own `login_url` for its provider (allauth's Microsoft setting), else ""."""
    with tenant_scope(attempt.tenant_id):
        row = VisitorLoginProvider.objects.filter(tenant_id=attempt.tenant_id, provider=attempt.provider).first()
    value = (row.settings or {}).get("login_url") if row is not None else ""
    return value if isinstance(value, str) else ""
