"""Mail that a machine wrote: never answered automatically, and (but for lists) never a new chat.

RFC 3834 (Auto-Submitted), the de-facto headers of Exchange, Gmail and list servers, and
delivery reports (RFC 3464) are all recognised. Parley's own mail coming back (a loop) is
recognised by its signed Message-ID.
"""

from __future__ import annotations

import re

from apps.emailbridge import addressing
from apps.emailbridge.parsing import ParsedEmail

OWN = "own_mail"
BOUNCE = "bounce"
AUTO_REPLY = "auto_reply"
LIST = "mailing_list"
MALFORMED = "malformed"
RATE_LIMITED = "rate_limited"
FILTERED = "filtered"
HEADER_INJECTION = "header_injection"

# Flags that keep mail out of conversations (kept, listed, promotable by hand).
NOT_A_CONVERSATION = {OWN, BOUNCE, AUTO_REPLY}
# Flags that forbid any automatic answer.
NO_AUTOMATIC_REPLY = {OWN, BOUNCE, AUTO_REPLY, LIST}

_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)? ?(reply|response)|out of (the )?office|autoreply|автоответ|"
    r"автоматический ответ|odpowiedź automatyczna|nieobecność)\b",
    re.IGNORECASE,
)


def classify(parsed: ParsedEmail, *, envelope_from: str | None) -> list[str]:
    """The safety flags of one message, most decisive first."""
    flags: list[str] = []
    headers = parsed.headers
    if addressing.parse_message_id(parsed.message_id) is not None or any(
        value for value in headers.get("x-parley-loop", [])
    ):
        flags.append(OWN)
    report = parsed.content_type == "multipart/report" or any(
        a.content_type in ("message/delivery-status", "message/global-delivery-status") for a in parsed.attachments
    )
    empty_return_path = envelope_from == "" or any(v.strip() in ("<>", "") for v in headers.get("return-path", []))
    if report or headers.get("x-failed-recipients") or _BOUNCE_SENDERS.match(parsed.from_address or ""):
        flags.append(BOUNCE)
    auto_submitted = [v.strip().lower() for v in headers.get("auto-submitted", [])]
    precedence = [v.strip().lower() for v in headers.get("precedence", [])]
    suppress = [v.strip().lower() for v in headers.get("x-auto-response-suppress", [])]
    if (
        any(v and not v.startswith("no") for v in auto_submitted)
        or headers.get("x-autoreply")
        or headers.get("x-autorespond")
        or "auto_reply" in precedence
        or (BOUNCE not in flags and empty_return_path and not headers.get("list-id"))
        or (any(v in ("all", "oof", "autoreply") for v in suppress) and _AUTO_SUBJECT.match(parsed.subject))
        or (_AUTO_SUBJECT.match(parsed.subject) and (suppress or precedence))
    ):
        flags.append(AUTO_REPLY)
    if (
        headers.get("list-id")
        or headers.get("list-unsubscribe")
        or any(p in ("bulk", "list", "junk") for p in precedence)
    ):
        flags.append(LIST)
    if parsed.malformed:
        flags.append(MALFORMED)
    return flags


def never_answer(flags: list[str], parsed: ParsedEmail) -> bool:
    """Whether an automatic answer (acknowledgement) to this mail is forbidden."""
    if NO_AUTOMATIC_REPLY.intersection(flags):
        return True
    return any(
        v.strip().lower() in ("all", "autoreply", "oof") for v in parsed.headers.get("x-auto-response-suppress", [])
    )
