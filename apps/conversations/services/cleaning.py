"""Client input checked and cleaned, once: every service validates through these.

Strings go through `apps.core.text.clean_text` (invalid Unicode replaced, control
characters removed); then the field's own rule (required, length, shape) refuses with
`BadInput` naming the field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _

from apps.conversations.errors import BadInput
from apps.core.text import clean_text

BODY_MAX_CHARS = 5000
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_\-:.]{1,64}")
# Messages the server writes itself get client ids with a character no client may use, so a
# client cannot take (and so block) the id of a future system message.
SERVER_CLIENT_ID_PREFIX = "#"
ANONYMOUS_ID_RE = re.compile(r"[A-Za-z0-9_\-]{8,64}")
MAX_ATTACHMENTS_PER_MESSAGE = 10
# The visitor's typing preview: what operators see of a draft (the socket cuts it, never refuses it).
DRAFT_MAX_CHARS = 500


def text(value: Any, *, field: str, max_chars: int, required: bool = False, multiline: bool = False) -> str:
    """Strip a client string; refuse non-strings, over-long values and (if required) empty ones."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadInput(_("This field must be text."), field=field)
    value = clean_text(value, multiline=multiline).strip()
    if required and not value:
        raise BadInput(_("This field is required."), field=field)
    if len(value) > max_chars:
        raise BadInput(_("This field is too long (at most %(max)s characters).") % {"max": max_chars}, field=field)
    return value


def truncated(value: Any, max_chars: int) -> str:
    """For descriptive metadata (titles, user agents): keep what fits instead of refusing the call."""
    if not isinstance(value, str):
        return ""
    return clean_text(value, multiline=False)[:max_chars]


def typing_draft(value: Any) -> str:
    """A typing preview: text cut to DRAFT_MAX_CHARS (a draft is a hint, never refused for its length)."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > DRAFT_MAX_CHARS * 4:
        raise BadInput(_("The frame is not valid."), field="draft")
    return clean_text(value)[:DRAFT_MAX_CHARS]


def url(value: Any, *, field: str, required: bool) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str):
        raise BadInput(_("Enter a valid web address."), field=field)
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in {"http", "https"}
        or not parts.netloc
        or len(value) > 2000
        or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value)
    ):
        raise BadInput(_("Enter a valid web address."), field=field)
    return value


def client_id(value: Any) -> str:
    if not isinstance(value, str) or not CLIENT_ID_RE.fullmatch(value):
        raise BadInput(_("client_id must be 1-64 letters, digits or - _ : . characters."), field="client_id")
    return value


def attachment_tokens(value: Any) -> list[str]:
    if value is None:
        return []
    # The type of every item first: a dict or a list in the list is unhashable (TypeError below).
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not all(isinstance(t, str) and 0 < len(t) <= 64 for t in value)
    ):
        raise BadInput(_("attachments must be a list of upload tokens."), field="attachments")
    tokens = list(dict.fromkeys(value))
    if len(tokens) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise BadInput(
            _("At most %(max)s files per message.") % {"max": MAX_ATTACHMENTS_PER_MESSAGE}, field="attachments"
        )
    return tokens
