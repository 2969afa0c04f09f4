"""Every string the dashboard's JavaScript shows comes from the translated catalogue."""

import re
from pathlib import Path

from django.utils import translation

from apps.accounts.models import Role
from apps.conversations.models import Conversation
from apps.dashboard.catalogue import js_catalogue
from apps.dashboard.models import OperatorStatus

STATIC = Path(__file__).resolve().parents[2] / "static" / "dashboard"
SOURCES = [STATIC / "app.js", *sorted((STATIC / "js").rglob("*.js"))]


def test_every_key_the_scripts_use_is_in_the_catalogue():
    catalogue = js_catalogue()
    used = set()
    for source in SOURCES:
        used |= set(re.findall(r"""\bt\(\s*"([a-z_.]+)\"""", source.read_text()))
    assert used, "no t(...) calls found"
    assert sorted(used - catalogue.keys()) == []


def test_keys_built_from_a_status_exist_for_every_status():
    catalogue = js_catalogue()
    for status in Conversation.Status.values:
        assert f"status.{status}" in catalogue
    for status in OperatorStatus.Status.values:
        assert f"op.{status}" in catalogue
    for side in ("visitor", "operator"):
        assert f"author.{side}" in catalogue
    assert Role.OPERATOR  # the catalogue has no role strings; roles are not shown in the dashboard


def test_the_catalogue_is_translated_per_request_language():
    with translation.override("en"):
        english = js_catalogue()
    assert english["chat.accept"] == "Accept"
    # Placeholders survive translation, whatever the language.
    for lang in ("ru", "pl"):
        with translation.override(lang):
            translated = js_catalogue()
        for key, text in english.items():
            assert set(re.findall(r"%\(\w+\)s", text)) == set(re.findall(r"%\(\w+\)s", translated[key])), (lang, key)
