"""Payment provider secrets at rest: encrypted with Fernet (AES-128-CBC + HMAC), never shown back in full.

The encryption key comes from `PARLEY_PAYMENT_KEYS_SECRET`, or is derived from `SECRET_KEY`
when that is unset; rotating it makes stored provider keys unreadable (re-enter them in the admin).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    secret = getattr(settings, "PARLEY_PAYMENT_KEYS_SECRET", "") or settings.SECRET_KEY
    digest = hashlib.sha256(b"parley.invoices.keys:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(value: str) -> str:
    if not value:
        return ""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """The stored secret, or "" when there is none or it was encrypted under another key."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return ""


def masked(value: str) -> str:
    """What the admin shows of a secret: its kind and its last four characters."""
    if not value:
        return ""
    head = value.split("_", 2)
    prefix = "_".join(head[:2]) + "_" if len(head) == 3 and len(value) > 16 else ""
    return f"{prefix}…{value[-4:]}" if len(value) > 8 else "…"
