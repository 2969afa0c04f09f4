import gzip

import pytest
from django_scopes import scopes_disabled

from apps.widget.models import WidgetSettings

pytestmark = pytest.mark.django_db


def config_url(tenant, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/widget/config/{tenant.widget_key}.json" + (f"?{query}" if query else "")


def test_unknown_key_is_404(client):
    assert client.get("/widget/config/pk_nope.json").status_code == 404


def test_inactive_tenant_is_answered_like_an_unknown_key(client, tenant):
    tenant.is_active = False
    tenant.save()
    assert client.get(config_url(tenant)).status_code == 404


def test_defaults_without_saved_settings(client, tenant):
    response = client.get(config_url(tenant))
    assert response.status_code == 200
    data = response.json()
    assert data["key"] == tenant.widget_key
    assert data["title"] == "Acme"
    assert data["colour"] == "#2563eb"
    assert data["position"] == "right"
    assert data["prechat"] == {"enabled": True, "email": False, "phone": False}


def test_config_is_public_and_cacheable(client, tenant):
    response = client.get(config_url(tenant))
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "public" in response["Cache-Control"] and "max-age=" in response["Cache-Control"]


def test_another_tenants_settings_never_leak(client, tenant, other_tenant):
    with scopes_disabled():
        WidgetSettings.objects.create(
            tenant=tenant, colour="#112233", title="Acme help", greeting_new="Hello from Acme"
        )
        WidgetSettings.objects.create(
            tenant=other_tenant, colour="#445566", title="Globex help", greeting_new="Globex secret greeting",
            position="left", offline_behaviour="hide",
        )
    body = client.get(config_url(tenant)).content.decode()
    assert "#112233" in body and "Acme help" in body and "Hello from Acme" in body
    assert "Globex" not in body and "#445566" not in body
    other = client.get(config_url(other_tenant)).json()
    assert other["colour"] == "#445566" and other["position"] == "left" and other["offline"] == "hide"


def test_online_means_an_active_operator_of_an_active_tenant(client, tenant):
    assert client.get(config_url(tenant)).json()["online"] is False
    with scopes_disabled():
        from tests.factories import MembershipFactory

        membership = MembershipFactory(tenant=tenant)
    assert client.get(config_url(tenant)).json()["online"] is True
    membership.is_active = False
    with scopes_disabled():
        membership.save()
    assert client.get(config_url(tenant)).json()["online"] is False


def test_other_tenants_operators_do_not_make_this_one_online(client, tenant, other_operator):
    assert client.get(config_url(tenant)).json()["online"] is False


def test_language_follows_the_browser_unless_fixed(client, tenant):
    assert client.get(config_url(tenant, lang="pl")).json()["lang"] == "pl"
    assert client.get(config_url(tenant, lang="xx")).json()["lang"] == "en"
    with scopes_disabled():
        WidgetSettings.objects.create(tenant=tenant, language="ru")
    assert client.get(config_url(tenant, lang="pl")).json()["lang"] == "ru"


def test_loader_is_small_gzipped_and_cacheable(client):
    response = client.get("/widget/loader.js", HTTP_ACCEPT_ENCODING="gzip, br")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert response["Content-Type"].startswith("text/javascript")
    assert "max-age" in response["Cache-Control"]
    assert len(response.content) <= 4096
    assert b"data-parley-key" in gzip.decompress(response.content)
    plain = client.get("/widget/loader.js")
    assert "Content-Encoding" not in plain


def test_uploaded_logo_is_served_by_the_widget(client, tenant, other_tenant, settings, tmp_path):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, format="PNG")
    with scopes_disabled():
        WidgetSettings.objects.create(tenant=tenant, logo=SimpleUploadedFile("logo.png", buffer.getvalue()))
    logo = client.get(config_url(tenant)).json()["logo"]
    assert f"/widget/logo/{tenant.widget_key}?v=" in logo
    response = client.get(f"/widget/logo/{tenant.widget_key}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == buffer.getvalue()
    # A tenant without an uploaded logo has none to serve.
    assert client.get(f"/widget/logo/{other_tenant.widget_key}").status_code == 404


@pytest.mark.parametrize(
    ("colour", "ink"), [("#2563eb", "#fff"), ("#ffeb3b", "#111"), ("#000000", "#fff"), ("#ffffff", "#111")]
)
def test_text_on_the_brand_colour_stays_readable(client, tenant, colour, ink):
    with scopes_disabled():
        WidgetSettings.objects.create(tenant=tenant, colour=colour)
    assert client.get(config_url(tenant)).json()["ink"] == ink
