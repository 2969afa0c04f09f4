"""A visitor logs in through allauth's real views against a local fake provider (Google and
Microsoft): the nonce, the merge within one tenant, never across, never an operator login."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_scopes import scopes_disabled

from apps.conversations import services as conversation_services
from apps.conversations.models import Conversation, Visitor
from apps.conversations.tokens import visitor_token_issue, visitor_token_read
from apps.identity.models import VisitorIdentity
from apps.visitorlogin.models import VisitorLoginAttempt
from tests import factories
from tests.visitorlogin.conftest import offer

pytestmark = pytest.mark.django_db


def auth(tenant, visitor):
    # The chat iframe's request: a write carries Parley's Origin (the one Origin rule, docs/widget.md).
    return {
        "HTTP_AUTHORIZATION": "Bearer " + visitor_token_issue(tenant=tenant, visitor=visitor),
        "HTTP_ORIGIN": settings.PARLEY_BASE_URL,
    }


def start(client, tenant, visitor, provider="google"):
    response = client.post(
        "/widget/api/social/start", {"provider": provider}, content_type="application/json", **auth(tenant, visitor)
    )
    assert response.status_code == 200, response.content
    return response.json()["url"]


def popup_login(client, url):
    """What the popup does: Parley's page, allauth's login POST, the provider, back to allauth."""
    begin = client.get(urlsplit(url).path)
    assert begin.status_code == 200
    assert begin["Cross-Origin-Opener-Policy"] == "unsafe-none"
    login_url = begin.context["login_url"]
    to_provider = client.post(login_url, {"process": "login"})
    assert to_provider.status_code == 302, to_provider.content
    at_provider = requests.get(to_provider["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def identities():
    with scopes_disabled():
        return list(VisitorIdentity.objects.values_list("tenant_id", "source", "subject", "visitor_id"))


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_visitor_logs_in_and_the_card_gets_name_email_avatar(
    client, tenant, visitor, providers_offered, fake_oauth, layer, provider, django_capture_on_commit_callbacks
):
    url = start(client, tenant, visitor, provider)
    assert url.startswith("http://localhost:8000/visitor-login/") or "/visitor-login/" in url
    with django_capture_on_commit_callbacks(execute=True):
        done = popup_login(client, url)
    assert done.status_code == 200
    assert "You are logged in" in done.content.decode()
    assert done["Cross-Origin-Opener-Policy"] == "unsafe-none"
    with scopes_disabled():
        visitor.refresh_from_db()
    expected = {
        "google": ("Ada Lovelace", "ada@gmail.example", "https://lh3.googleusercontent.example/a/ada"),
        "microsoft": ("Grace Hopper", "grace@outlook.example", ""),
    }[provider]
    assert (visitor.name, visitor.email, visitor.avatar_url) == expected
    uid = {"google": "108000000000000000001", "microsoft": "6f1b0c2e-ms-user-1"}[provider]
    assert identities() == [(tenant.pk, f"social:{provider}", uid, visitor.pk)]
    # The result reaches the widget over its own socket.
    [frame] = layer.frames(f"v{visitor.pk}")
    assert frame["type"] == "identity" and frame["visitor"]["name"] == expected[0]
    assert "token" not in frame  # the same visitor: the widget keeps its token
    # allauth's token exchange and profile request went to the provider.
    assert any(path.endswith("token") for method, path in fake_oauth.requests if method == "POST")


def test_a_visitor_login_never_becomes_an_operator_login(client, tenant, visitor, providers_offered, fake_oauth):
    users_before = get_user_model().objects.count()
    popup_login(client, start(client, tenant, visitor))
    assert get_user_model().objects.count() == users_before
    assert "_auth_user_id" not in client.session
    from allauth.socialaccount.models import SocialAccount, SocialToken

    assert not SocialAccount.objects.exists() and not SocialToken.objects.exists()
    assert client.get("/app/").status_code == 302  # still anonymous: the dashboard sends to the login


def test_without_a_popup_attempt_allauth_offers_no_provider(client, providers_offered, fake_oauth):
    # An operator (or anyone) going to allauth's Google login directly: no app, no login.
    assert client.post("/accounts/google/login/", {"process": "login"}).status_code == 404
    assert client.get("/accounts/google/login/callback/?code=x&state=y").status_code == 404
    assert fake_oauth.requests == []


def test_the_same_account_on_another_device_joins_the_same_visitor(
    client, tenant, visitor, providers_offered, fake_oauth, layer, django_capture_on_commit_callbacks
):
    popup_login(client, start(client, tenant, visitor))
    with scopes_disabled():
        laptop = Visitor.objects.get(pk=visitor.pk)
        phone = factories.VisitorFactory(tenant=tenant)
    conversation, _ = conversation_services.conversation_open_or_start(tenant=tenant, visitor=phone)
    with django_capture_on_commit_callbacks(execute=True):
        popup_login(client, start(client, tenant, phone))
    with scopes_disabled():
        assert not Visitor.objects.filter(pk=phone.pk).exists()
        assert Conversation.objects.get(pk=conversation.pk).visitor_id == laptop.pk
    [frame] = layer.frames(f"v{phone.pk}")
    assert frame["visitor"]["id"] == laptop.pk
    assert frame["visitor"]["anonymous_id"] == laptop.anonymous_id
    assert visitor_token_read(frame["token"]) == (tenant.pk, laptop.pk)


def test_the_same_account_in_another_tenant_is_another_visitor(
    client, tenant, other_tenant, visitor, other_visitor, providers_offered, fake_oauth
):
    offer(other_tenant, "google", fake_oauth)
    popup_login(client, start(client, tenant, visitor))
    popup_login(client, start(client, other_tenant, other_visitor))
    rows = identities()
    assert sorted(r[0] for r in rows) == sorted([tenant.pk, other_tenant.pk])
    assert {r[3] for r in rows} == {visitor.pk, other_visitor.pk}
    with scopes_disabled():
        assert Visitor.objects.filter(pk__in=[visitor.pk, other_visitor.pk]).count() == 2


def test_a_used_nonce_is_refused(client, tenant, visitor, providers_offered, fake_oauth):
    url = start(client, tenant, visitor)
    popup_login(client, url)
    again = client.get(urlsplit(url).path)
    assert again.status_code == 404
    assert "expired or was already used" in again.content.decode()


def test_an_expired_nonce_is_refused_even_mid_flow(client, tenant, visitor, providers_offered, fake_oauth):
    url = start(client, tenant, visitor)
    begin = client.get(urlsplit(url).path)
    with scopes_disabled():
        VisitorLoginAttempt.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    to_provider = client.post(begin.context["login_url"], {"process": "login"})
    at_provider = requests.get(to_provider["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(at_provider.headers["Location"])
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 403
    assert identities() == []


def test_an_unknown_nonce_is_404(client, providers_offered):
    assert client.get("/visitor-login/" + "x" * 43 + "/").status_code == 404


def test_a_provider_the_tenant_does_not_offer_is_404(client, tenant, visitor, providers_offered):
    response = client.post(
        "/widget/api/social/start", {"provider": "vk"}, content_type="application/json", **auth(tenant, visitor)
    )
    assert response.status_code == 404


def test_another_tenants_provider_is_404(client, tenant, visitor, other_tenant, fake_oauth):
    offer(other_tenant, "google", fake_oauth)
    response = client.post(
        "/widget/api/social/start", {"provider": "google"}, content_type="application/json", **auth(tenant, visitor)
    )
    assert response.status_code == 404


def test_start_needs_a_visitor_token(client, providers_offered):
    assert (
        client.post("/widget/api/social/start", {"provider": "google"}, content_type="application/json").status_code
        == 401
    )


def test_the_widget_config_lists_the_offered_providers(client, tenant, providers_offered):
    config = client.get(f"/widget/config/{tenant.widget_key}.json").json()
    assert config["login_providers"] == [{"id": "google", "name": "Google"}, {"id": "microsoft", "name": "Microsoft"}]
