"""Every JSON HTTP endpoint under hostile input: a documented 4xx or a success, never a 5xx,
never an exception, never a logged error.

The endpoints are found from the URL configuration, so a new one fails
`test_every_json_endpoint_is_fuzzed` until it joins TARGETS. Examples per target: the
`HYPOTHESIS_PROFILE` (default: bounded for `make test`; `nightly`: long, see docs/security.md).
"""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.conversations import events
from apps.conversations.tokens import visitor_token_issue
from tests.fuzz.strategies import NASTY_TEXT, PLAUSIBLE, mutations, objects, raw_json, texts

pytestmark = pytest.mark.django_db

JSON_PREFIXES = ("widget/api/", "app/api/", "invoices/webhooks/")
# (url pattern, method, who calls it)
TARGETS = [
    ("widget/api/session", "POST", "anyone"),
    ("widget/api/pageview", "POST", "visitor"),
    ("widget/api/messages", "GET", "visitor"),
    ("widget/api/messages", "POST", "visitor"),
    ("widget/api/visitor", "POST", "visitor"),
    ("widget/api/contact", "POST", "anyone"),
    ("widget/api/rating", "POST", "visitor"),
    ("widget/api/end", "POST", "visitor"),
    ("widget/api/transcript", "POST", "visitor"),
    ("widget/api/upload", "POST", "visitor"),
    ("widget/api/attachments/<str:token>", "GET", "visitor"),
    ("widget/api/telegram/link", "POST", "visitor"),
    ("widget/api/social/start", "POST", "visitor"),
    ("app/api/upload", "POST", "operator"),
    ("app/api/conversations", "GET", "operator"),
    ("app/api/conversations/<int:conversation_id>", "GET", "operator"),
    ("app/api/conversations/<int:conversation_id>/messages", "GET", "operator"),
    ("app/api/conversations/<int:conversation_id>/invite", "POST", "operator"),
    ("app/api/visitors/online", "GET", "operator"),
    ("app/api/visitors/<int:visitor_id>", "GET", "operator"),
    ("app/api/visitors/<int:visitor_id>", "POST", "operator"),
    ("app/api/visitors/<int:visitor_id>/notes", "GET", "operator"),
    ("app/api/visitors/<int:visitor_id>/notes", "POST", "operator"),
    ("app/api/visitors/<int:visitor_id>/invite", "POST", "operator"),
    ("app/api/team", "GET", "operator"),
    ("app/api/status", "GET", "operator"),
    ("app/api/status", "POST", "operator"),
    ("app/api/canned/", "GET", "operator"),
    ("app/api/canned/", "POST", "operator"),
    ("app/api/canned/browse", "GET", "operator"),
    ("app/api/canned/hotkeys", "GET", "operator"),
    ("app/api/canned/hotkeys", "POST", "operator"),
    ("app/api/canned/<int:reply_id>", "GET", "operator"),
    ("app/api/canned/<int:reply_id>", "PATCH", "operator"),
    ("app/api/canned/<int:reply_id>/fill", "POST", "operator"),
    ("app/api/invoices/", "GET", "operator"),
    ("app/api/invoices/", "POST", "operator"),
    ("app/api/invoices/options", "GET", "operator"),
    ("app/api/invoices/<int:invoice_id>/send", "POST", "operator"),
    ("app/api/invoices/<int:invoice_id>/cancel", "POST", "operator"),
    ("app/api/messengers/visitors/<int:visitor_id>", "GET", "operator"),
    ("widget/api/queue/state", "POST", "visitor"),
    ("widget/api/queue/email", "POST", "visitor"),
    ("app/api/routing/state", "GET", "operator"),
]
# Verified by the payment provider's signature before anything is read: apps/invoices' own tests.
NOT_FUZZED_HERE = {"invoices/webhooks/<str:provider>/<str:webhook_token>/"}
ALLOWED_STATUS = {200, 201, 202, 204, 400, 403, 404, 405, 409, 413, 415, 429}


def _patterns(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def test_every_json_endpoint_is_fuzzed():
    found = {p for p in _patterns(get_resolver()) if p.startswith(JSON_PREFIXES)}
    assert found - NOT_FUZZED_HERE == {pattern for pattern, _method, _who in TARGETS}


class _Errors(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def logged_errors():
    handler = _Errors()
    logging.getLogger().addHandler(handler)
    yield handler.records
    logging.getLogger().removeHandler(handler)


class _SilentLayer:
    async def group_send(self, group, message):
        return None


@pytest.fixture
def world(monkeypatch, client, tenant, operator, visitor, conversation):
    monkeypatch.setattr(events, "get_channel_layer", lambda: _SilentLayer())
    client.force_login(operator.user)
    from django_scopes import scopes_disabled

    from tests.factories import CannedReplyFactory

    with scopes_disabled():
        reply = CannedReplyFactory(tenant=tenant)
    return {
        "client": client,
        "token": visitor_token_issue(tenant=tenant, visitor=visitor),
        "ids": {
            "conversation_id": conversation.pk,
            "visitor_id": visitor.pk,
            "reply_id": reply.pk,
            "invoice_id": 2**31 - 1,  # none: the invoice endpoints answer not_found first
        },
        "key": tenant.widget_key,
    }


def _url(pattern: str, ids: dict, token: str) -> str:
    url = "/" + pattern.replace("<str:token>", token[:40])
    for name, value in ids.items():
        url = url.replace(f"<int:{name}>", str(value))
    return url


def _call(world, pattern, method, who, *, body: str | None = None, query: dict | None = None):
    client = world["client"]
    headers = {"HTTP_ORIGIN": django_settings.PARLEY_BASE_URL}
    if who == "visitor":
        headers["HTTP_AUTHORIZATION"] = "Bearer " + world["token"]
    url = _url(pattern, world["ids"], world["token"])
    cache.clear()  # rate limits would turn most examples into 429s
    if method == "GET":
        return client.get(url, query or {}, **headers)
    return client.generic(method, url, (body or "").encode("utf-8", "surrogatepass"), "application/json", **headers)


def _check(response, logged_errors):
    assert response.status_code in ALLOWED_STATUS, (response.status_code, response.content[:300])
    if response.status_code >= 400 and response.get("Content-Type", "").startswith("application/json"):
        payload = response.json()
        assert "error" in payload
    assert logged_errors == [], [r.getMessage() for r in logged_errors]


POSTS = [t for t in TARGETS if t[1] in ("POST", "PATCH")]
GETS = [t for t in TARGETS if t[1] == "GET"]
# One test per kind, the target drawn per example: fixtures (users, sessions) are built once.
# Every query parameter a view reads (grep request.GET), plus one none reads.
QUERY_NAMES = ["after", "before", "limit", "offset", "box", "conversation", "lang", "q", "key", "token", "visitor", "x"]
_query_values = st.one_of(
    st.sampled_from(NASTY_TEXT), texts.filter(lambda s: len(s) < 3000), st.integers().map(str), st.floats().map(str)
)
_queries = st.dictionaries(st.sampled_from(QUERY_NAMES), _query_values, max_size=3)


def _per_target(targets):
    return settings(max_examples=settings().max_examples * len(targets))


@_per_target(POSTS)
@given(target=st.sampled_from(POSTS), body=st.one_of(raw_json, objects.map(json.dumps)))
def test_json_bodies_get_a_documented_answer(world, logged_errors, target, body):
    _check(_call(world, *target, body=body), logged_errors)


@_per_target(POSTS)
@given(target=st.sampled_from(POSTS), data=st.data())
def test_plausible_requests_with_hostile_fields_get_a_documented_answer(world, logged_errors, target, data):
    # Real ids and sane values everywhere else get past "not found" and the other fields'
    # checks, so the hostile value reaches the service that stores or sends it.
    base = {**PLAUSIBLE, "conversation": world["ids"]["conversation_id"], "key": world["key"]}
    payload = data.draw(mutations(base))
    _check(_call(world, *target, body=json.dumps(payload)), logged_errors)


@_per_target(GETS)
@given(target=st.sampled_from(GETS), query=_queries)
def test_query_strings_get_a_documented_answer(world, logged_errors, target, query):
    # A query string carries bytes: lone surrogates cannot be sent, their replacement can.
    query = {k: v.encode("utf-8", "replace").decode("utf-8") for k, v in query.items()}
    _check(_call(world, *target, query=query), logged_errors)


def test_a_nul_in_any_query_parameter_is_a_400_on_every_endpoint(world, logged_errors):
    # PostgreSQL refuses NUL in text: `?lang=%00` used to reach a filter and answer 500.
    client = world["client"]
    for pattern, method, who in TARGETS:
        headers = {"HTTP_ORIGIN": django_settings.PARLEY_BASE_URL}
        if who == "visitor":
            headers["HTTP_AUTHORIZATION"] = "Bearer " + world["token"]
        for name in QUERY_NAMES:
            url = _url(pattern, world["ids"], world["token"]) + f"?{name}=a%00b"
            response = client.generic(method, url, b"{}", "application/json", **headers)
            assert response.status_code == 400, (pattern, name, response.status_code, response.content[:300])
            assert "error" in response.json()
    assert logged_errors == []
