import json
import re

import pytest
from django_scopes import scopes_disabled

from apps.widget.models import WidgetSettings

pytestmark = pytest.mark.django_db


def frame_url(tenant, query=""):
    return f"/widget/frame/{tenant.widget_key}/{query}"


def csp(response) -> dict[str, str]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    return directives


def boot(response) -> dict:
    pattern = r'<script id="parley-boot" type="application/json">(.*?)</script>'
    match = re.search(pattern, response.content.decode(), re.S)
    return json.loads(match.group(1))


def test_unknown_key_is_404(client):
    assert client.get("/widget/frame/pk_missing/").status_code == 404


def test_frame_may_be_framed_only_by_the_tenants_domains(client, tenant):
    tenant.allowed_domains = "shop.example.com\n*.acme.test"
    tenant.save()
    response = client.get(frame_url(tenant))
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert "public" in response["Cache-Control"]
    ancestors = csp(response)["frame-ancestors"].split()
    assert "https://shop.example.com:*" in ancestors
    assert "https://*.acme.test:*" in ancestors and "https://acme.test:*" in ancestors
    assert "'self'" in ancestors  # Parley's own preview page
    assert "*" not in ancestors and "https:" not in ancestors


def test_frame_without_allowed_domains_may_be_framed_anywhere(client, tenant):
    response = client.get(frame_url(tenant))
    assert csp(response)["frame-ancestors"] == "http: https:"


def test_frame_runs_only_our_scripts(client, tenant):
    policy = csp(client.get(frame_url(tenant)))
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"


def test_other_pages_still_refuse_framing(client):
    response = client.get("/widget/config/pk_missing.json")
    assert response.get("X-Frame-Options") == "DENY"


def test_frame_renders_the_tenants_look_and_strings_in_the_language(client, tenant, other_tenant):
    with scopes_disabled():
        WidgetSettings.objects.create(tenant=tenant, colour="#aa0000", title="Acme support")
        WidgetSettings.objects.create(tenant=other_tenant, colour="#00aa00", title="Globex support")
    response = client.get(frame_url(tenant, "?lang=pl&host=https://shop.example.com"))
    assert response["Content-Language"] == "pl"
    data = boot(response)
    assert data["config"]["colour"] == "#aa0000"
    assert data["language"] == "pl"
    assert "send" in data["strings"] and "typing" in data["strings"]
    assert b"Globex" not in response.content


def test_hostile_tenant_text_is_escaped_in_the_frame(client, tenant):
    hostile = '</script><script>alert(1)</script>'
    with scopes_disabled():
        WidgetSettings.objects.create(tenant=tenant, title=hostile[:60], greeting_new=hostile)
    content = client.get(frame_url(tenant)).content.decode()
    assert "<script>alert(1)" not in content
    assert boot(client.get(frame_url(tenant)))["config"]["greeting_new"] == hostile


def test_frame_ancestors_ignore_domains_that_would_inject_directives(tenant):
    from apps.widget.selectors import frame_ancestors

    tenant.allowed_domains = "good.example\nevil.example; script-src *\n'self'"
    assert frame_ancestors(tenant=tenant) == "frame-ancestors 'self' https://good.example:* http://good.example:*"


def test_preview_page_carries_the_snippet(client, tenant):
    response = client.get(f"/widget/preview/{tenant.widget_key}/")
    assert response.status_code == 200
    assert f'data-parley-key="{tenant.widget_key}"' in response.content.decode()
    assert client.get("/widget/preview/pk_missing/").status_code == 404
