"""A strict Content-Security-Policy on every Parley page; no template carries inline script or style."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "templates", *sorted((ROOT / "apps").glob("*/templates"))]


def _policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["account_login", "signup", "account_reset_password"])
def test_public_pages_send_a_strict_policy(client, name):
    policy = _policy(client.get(reverse(name)))
    assert policy["script-src"][0] == "'self'" and policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert not [v for values in policy.values() for v in values if "unsafe" in v]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/get-started/", "/app/", "/admin/", "/team/invite/"])
def test_signed_in_pages_send_the_same_policy(client, owner, path):
    client.force_login(owner.user)
    response = client.get(path)
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["script-src"][0] == "'self'"
    assert not [v for values in policy.values() for v in values if "unsafe" in v]


@pytest.mark.django_db
def test_the_widget_iframe_keeps_its_frame_ancestors_and_no_inline_script(client, tenant):
    tenant.allowed_domains = "shop.example\n*.acme.example"
    tenant.save()
    policy = _policy(client.get(reverse("widget:frame", args=[tenant.widget_key])))
    assert "https://shop.example:*" in policy["frame-ancestors"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=\s*[\"']", re.IGNORECASE)


@pytest.mark.parametrize("template", [p for d in TEMPLATE_DIRS for p in sorted(d.rglob("*.html"))], ids=str)
def test_no_template_has_inline_script_handlers_or_styles(template):
    text = template.read_text()
    # `json_script` renders <script type="application/json">, which is data, not code.
    assert not [m for m in INLINE_SCRIPT.findall(text) if "application/json" not in m], template
    assert not INLINE_HANDLER.search(text), template
    assert not INLINE_STYLE.search(text), template
