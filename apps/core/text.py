"""Text from outside, cleaned in one place.

Every string a visitor, an operator, an email or a form hands Parley passes through here
before it is stored or used:

- invalid Unicode (lone surrogates such as JSON's `"\\ud800"`, which no database or
  encoder accepts) becomes U+FFFD, so one bad character never fails the whole message;
- control characters (C0 but tab and newline, DEL, C1, and NUL, which PostgreSQL refuses)
  are removed; CR LF and lone CR become LF;
- a value that can reach a mail header (a company or person name, an address, a subject)
  is refused when it holds a line break, at the edge where it enters (signup, admin,
  forms), instead of failing later in the worker that sends the mail.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# Lone surrogates: valid in a Python str (and in JSON escapes), invalid everywhere else.
_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 controls except tab (\t) and newline (\n), DEL, C1 controls; \r is handled first.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Everything that ends a line for a mail header or for a person reading it.
LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def clean_text(value: str, *, multiline: bool = True) -> str:
    """`value` with invalid Unicode replaced and control characters removed (not stripped of spaces).

    `multiline=False` also folds every run of whitespace (line breaks included) into one space:
    for titles, names in lists, one-line metadata.
    """
    value = _SURROGATES.sub("\ufffd", value)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROLS.sub("", value)
    if not multiline:
        value = " ".join(value.split())
    return value


def has_line_break(value: str) -> bool:
    return bool(LINE_BREAKS.search(value))


@deconstructible
class SingleLineValidator:
    """Refuse a value that holds a line break: it may end up in a mail header (From, Subject, To)."""

    message = _("Enter this on one line, without line breaks.")
    code = "line_break"

    def __call__(self, value) -> None:
        if isinstance(value, str) and has_line_break(value):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other) -> bool:
        return isinstance(other, SingleLineValidator)


single_line = SingleLineValidator()


def header_safe(value: str) -> str:
    """`value` cleaned for a mail header; raises ValidationError if it spans lines."""
    single_line(value)
    return clean_text(value, multiline=False)
