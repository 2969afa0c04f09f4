import json

import pytest
from django.core.cache import cache
from django_scopes import scopes_disabled

from apps.conversations.models import PageView, Visitor
from apps.conversations.tokens import visitor_token_issue
from apps.core.ratelimit import rate_limit_exceeded
from apps.widget import api as views

pytestmark = pytest.mark.django_db

SHOP = "https://shop.test"


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    yield
    cache.clear()


def post(client, url, data, **headers):
    return client.post(url, data=json.dumps(data), content_type="application/json", headers=headers)


def test_a_limit_allows_its_budget_then_refuses_until_the_window_ends():
    results = [rate_limit_exceeded("k", limit=3, period=60) for _ in range(5)]
    assert results == [False, False, False, True, True]
    assert rate_limit_exceeded("another-key", limit=3, period=60) is False


def test_too_many_sessions_from_one_address_are_refused_and_create_no_visitor(client, tenant, monkeypatch):
    monkeypatch.setattr(views, "SESSION_RATE_PER_MINUTE", 2)
    for n in range(2):
        response = post(client, "/widget/api/session", {"key": tenant.widget_key, "anonymous_id": f"a{n}"}, Origin=SHOP)
        assert response.status_code == 200
    response = post(client, "/widget/api/session", {"key": tenant.widget_key, "anonymous_id": "a-third"}, Origin=SHOP)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    with scopes_disabled():
        assert not Visitor.objects.filter(anonymous_id="a-third").exists()


def test_a_visitor_over_the_page_view_budget_is_refused_and_nothing_is_recorded(client, tenant, visitor, monkeypatch):
    monkeypatch.setitem(views.VISITOR_RATE_PER_MINUTE, "pageview", 1)
    token = visitor_token_issue(tenant=tenant, visitor=visitor)
    headers = {"Authorization": f"Bearer {token}", "Origin": SHOP}
    assert post(client, "/widget/api/pageview", {"url": "https://shop.test/a"}, **headers).status_code == 200
    response = post(client, "/widget/api/pageview", {"url": "https://shop.test/b"}, **headers)
    assert response.status_code == 429
    with scopes_disabled():
        assert list(PageView.objects.values_list("url", flat=True)) == ["https://shop.test/a"]
