"""Checking the identity a tenant's server signed for one of its logged-in users.

Two forms, both keyed with the tenant's identity secret:

- a JWT (HS256 only) with `sub` (the user's id on the site), optional `name` and `email`,
  and `exp`; it may live at most `TOKEN_MAX_LIFETIME` and is refused once expired;
- for simple sites, `user_id` with `user_hash`, the hex HMAC-SHA256 of the id. It proves
  the id only; `name` and `email` beside it are taken as the visitor's own words.

Every comparison of a signature is constant-time (`hmac.compare_digest`, which PyJWT
uses as well). Whatever is wrong, the answer is `IdentityRefused` with a reason that
names no secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import jwt
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from apps.conversations.errors import ConversationError

TOKEN_MAX_CHARS = 4096
TOKEN_MAX_LIFETIME = 24 * 3600
CLOCK_LEEWAY = 30
SUBJECT_MAX_CHARS = 255
NAME_MAX_CHARS = 120


class IdentityRefused(ConversationError):
    code = "identity_refused"
    http_status = 403
    default_message = _("Your sign-in on this site could not be verified. Please reload the page.")


class IdentityRequired(ConversationError):
    code = "identity_required"
    http_status = 403
    default_message = _("Please sign in on this site to chat with us.")


@dataclass(frozen=True)
class Claims:
    subject: str
    name: str = ""
    email: str = ""
    # False for the HMAC form: name and email were not signed.
    details_signed: bool = True


def _subject(value: Any) -> str:
    if type(value) is int:
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > SUBJECT_MAX_CHARS:
        raise IdentityRefused()
    if value != value.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise IdentityRefused()
    return value


def _name(value: Any) -> str:
    if value is None or not isinstance(value, str):
        return ""
    return " ".join("".join(ch for ch in value if ord(ch) >= 32 and ord(ch) != 127).split())[:NAME_MAX_CHARS]


def _email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        return ""
    value = value.strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value if len(value) <= 254 else ""


def user_hash(secret: str, user_id: str) -> str:
    """What the tenant's server computes for the HMAC form (also used by the docs' examples)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def claims_from_token(token: Any, *, secret: str, now: float | None = None) -> Claims:
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX_CHARS:
        raise IdentityRefused()
    now = time.time() if now is None else now
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"], "verify_aud": False},
            leeway=CLOCK_LEEWAY,
        )
    except jwt.ExpiredSignatureError:
        raise IdentityRefused(_("Your sign-in on this site has expired. Please reload the page.")) from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise IdentityRefused() from None
    expires = payload.get("exp")
    issued = payload.get("iat", now)
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise IdentityRefused()
    # Short-lived only: a token that stays valid for days is a password in a page.
    if expires - min(issued, now) > TOKEN_MAX_LIFETIME + CLOCK_LEEWAY or issued > now + CLOCK_LEEWAY:
        raise IdentityRefused()
    return Claims(
        subject=_subject(payload.get("sub")), name=_name(payload.get("name")), email=_email(payload.get("email"))
    )


def claims_from_hash(data: dict[str, Any], *, secret: str) -> Claims:
    subject = _subject(data.get("user_id"))
    given = data.get("user_hash")
    if not isinstance(given, str) or len(given) != 64:
        raise IdentityRefused()
    if not hmac.compare_digest(user_hash(secret, subject).encode(), given.lower().encode("ascii", "replace")):
        raise IdentityRefused()
    return Claims(subject=subject, name=_name(data.get("name")), email=_email(data.get("email")), details_signed=False)


def claims_read(identity: Any, *, secret: str) -> Claims:
    """The claims of the `identity` object the loader sent: `{"token": jwt}` or `{"user_id", "user_hash"}`."""
    if not isinstance(identity, dict):
        raise IdentityRefused()
    if "token" in identity:
        return claims_from_token(identity.get("token"), secret=secret)
    if "user_hash" in identity:
        return claims_from_hash(identity, secret=secret)
    raise IdentityRefused()
