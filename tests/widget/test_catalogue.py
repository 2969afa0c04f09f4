"""Every string the chat iframe's JavaScript shows comes from the translated catalogue."""

import re
from pathlib import Path

from apps.widget.catalogue import widget_strings

STATIC = Path(__file__).resolve().parents[2] / "static" / "widget"
SOURCES = [STATIC / "app.js", *sorted((STATIC / "js").rglob("*.js"))]


def test_every_key_the_scripts_use_is_in_the_catalogue():
    catalogue = widget_strings()
    used = set()
    for source in SOURCES:
        text = source.read_text()
        used |= set(re.findall(r"""\bS\.([a-z_]+)\b""", text))
        used |= set(re.findall(r"""\bt\(\s*"([a-z_]+)\"""", text))
    assert {"typing", "reconnecting", "sending"} <= used
    assert sorted(used - catalogue.keys()) == []


def test_system_events_the_widget_shows_have_strings():
    catalogue = widget_strings()
    for event in ("accepted", "assigned", "transferred", "closed", "reopened", "rated"):
        assert f"sys_{event}" in catalogue
