"""Placeholders in a reply's text: `{{visitor.name}}`, with a fallback: `{{visitor.name|there}}`.

Checked when a reply is saved (an unknown name is refused then, never at send time) and
filled when an operator inserts the reply into a chat. A value that is empty gives the
fallback (or nothing). Values are plain text like every message body: the dashboard and
the widget escape them wherever they are shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

__all__ = ["KNOWN", "PlaceholderValues", "fill", "problems"]

# {{ name }} or {{ name | fallback }}; a fallback cannot contain braces or a line break.
PLACEHOLDER = re.compile(r"\{\{\s*([^{}|\n]*?)\s*(?:\|([^{}\n]*))?\}\}")
ATTRIBUTE = re.compile(r"^attribute\.([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})$")
KNOWN = ("visitor.name", "visitor.email", "operator.name", "company.name", "page.url", "page.title")
VALUE_MAX_CHARS = 500
FALLBACK_MAX_CHARS = 200


@dataclass
class PlaceholderValues:
    visitor_name: str = ""
    visitor_email: str = ""
    operator_name: str = ""
    company_name: str = ""
    page_url: str = ""
    page_title: str = ""
    attributes: dict = field(default_factory=dict)

    def get(self, name: str) -> str:
        if name in KNOWN:
            value = getattr(self, name.replace(".", "_"))
        else:
            match = ATTRIBUTE.match(name)
            value = self.attributes.get(match.group(1), "") if match else ""
        if value is None or isinstance(value, dict | list):
            return ""
        return str(value).strip()[:VALUE_MAX_CHARS]


def problems(text: str) -> list[str]:
    """Why the placeholders in `text` cannot be filled, one message each; empty when they can."""
    errors: list[str] = []
    for match in PLACEHOLDER.finditer(text or ""):
        name, fallback = match.group(1), match.group(2)
        if name not in KNOWN and not ATTRIBUTE.match(name):
            errors.append(
                _("Unknown placeholder %(placeholder)s. Use one of: %(known)s, or attribute.KEY.")
                % {"placeholder": match.group(0), "known": ", ".join(KNOWN)}
            )
        elif fallback is not None and len(fallback.strip()) > FALLBACK_MAX_CHARS:
            errors.append(
                _("The fallback of %(placeholder)s is longer than %(max)s characters.")
                % {"placeholder": "{{" + name + "}}", "max": FALLBACK_MAX_CHARS}
            )
    # Braces that do not make a placeholder are most likely a typo of one.
    leftover = PLACEHOLDER.sub("", text or "")
    if "{{" in leftover or "}}" in leftover:
        errors.append(_("A placeholder is not closed: write it as {{visitor.name}}."))
    return errors


def fill(text: str, values: PlaceholderValues) -> str:
    def replace(match: re.Match) -> str:
        value = values.get(match.group(1))
        if value:
            return value
        return (match.group(2) or "").strip()

    return PLACEHOLDER.sub(replace, text or "")
