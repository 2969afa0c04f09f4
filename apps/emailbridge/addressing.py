"""Addresses and identifiers that Parley signs, so a reply finds its conversation and nobody can forge one.

- Reply address: `reply+<tenant>-<conversation>-<sig>@<inbound domain>` (lower-case only:
  some servers lower-case local parts).
- Message-ID: `<p.<nonce>.<tenant>.<conversation>.<sig>@<inbound domain>>`; a reply names it
  in In-Reply-To or References, unless a provider rewrote it.
- Body marker: `[ref P-<tenant>-<conversation>-<sig>]` at the end of our mail, for the
  providers (Outlook, some gateways) that rewrite Message-IDs and References.

Signatures are HMACs keyed on SECRET_KEY; each kind has its own salt.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

SIG_CHARS = 20
_REPLY_LOCAL = re.compile(r"^reply\+(\d{1,18})-(\d{1,18})-([0-9a-f]{20})$")
_MESSAGE_ID = re.compile(r"^p\.([0-9a-z]{6,32})\.(\d{1,18})\.(\d{1,18})\.([0-9a-f]{20})@(.+)$", re.IGNORECASE)
MARKER_RE = re.compile(r"\[ref P-(\d{1,18})-(\d{1,18})-([0-9a-f]{20})\]")


@dataclass(frozen=True)
class ThreadRef:
    tenant_id: int
    conversation_id: int


def inbound_domain() -> str:
    return settings.PARLEY_INBOUND_DOMAIN.lower()


def _sig(kind: str, value: str) -> str:
    return salted_hmac(f"parley.emailbridge.{kind}", value, algorithm="sha256").hexdigest()[:SIG_CHARS]


def _valid(kind: str, value: str, sig: str) -> bool:
    return constant_time_compare(_sig(kind, value), sig.lower())


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = (address or "").strip().strip("<>").rpartition("@")
    return local.lower(), domain.lower().rstrip(".")


# --- reply address ------------------------------------------------------------------------------


def reply_address(tenant_id: int, conversation_id: int) -> str:
    token = f"{tenant_id}-{conversation_id}"
    return f"reply+{token}-{_sig('reply', token)}@{inbound_domain()}"


def parse_reply_address(address: str) -> ThreadRef | None:
    local, domain = split_address(address)
    if domain != inbound_domain():
        return None
    match = _REPLY_LOCAL.match(local)
    if not match:
        return None
    tenant_id, conversation_id, sig = match.groups()
    if not _valid("reply", f"{tenant_id}-{conversation_id}", sig):
        return None
    return ThreadRef(int(tenant_id), int(conversation_id))


# --- Message-ID ---------------------------------------------------------------------------------


def new_message_id(tenant_id: int, conversation_id: int) -> str:
    """A fresh signed Message-ID, without angle brackets."""
    nonce = secrets.token_hex(8)
    value = f"{nonce}.{tenant_id}.{conversation_id}"
    return f"p.{value}.{_sig('msgid', value)}@{inbound_domain()}"


def parse_message_id(message_id: str) -> ThreadRef | None:
    match = _MESSAGE_ID.match((message_id or "").strip().strip("<>"))
    if not match:
        return None
    nonce, tenant_id, conversation_id, sig, _domain = match.groups()
    if not _valid("msgid", f"{nonce.lower()}.{tenant_id}.{conversation_id}", sig):
        return None
    return ThreadRef(int(tenant_id), int(conversation_id))


# --- body marker --------------------------------------------------------------------------------


def body_marker(tenant_id: int, conversation_id: int) -> str:
    token = f"{tenant_id}-{conversation_id}"
    return f"[ref P-{token}-{_sig('marker', token)}]"


def find_body_markers(text: str) -> list[ThreadRef]:
    found = []
    for tenant_id, conversation_id, sig in MARKER_RE.findall(text or ""):
        if _valid("marker", f"{tenant_id}-{conversation_id}", sig):
            found.append(ThreadRef(int(tenant_id), int(conversation_id)))
    return found
