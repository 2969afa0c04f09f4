"""Identity verification: the tenant's server signs its logged-in user; the widget session checks it."""

import json
import time

import jwt
import pytest
from django_scopes import scopes_disabled

from apps.conversations.models import Conversation, PageView, Visitor
from apps.identity import services
from apps.identity.claims import IdentityRefused, claims_from_hash, claims_from_token, user_hash
from apps.identity.models import IdentitySettings, VisitorIdentity
from tests import factories

pytestmark = pytest.mark.django_db

SHOP = "https://shop.test"


@pytest.fixture(autouse=True)
def base_url(settings):
    settings.PARLEY_BASE_URL = "https://parley.test"


@pytest.fixture
def secret(tenant):
    return services.identity_settings_ensure(tenant=tenant).secret


@pytest.fixture
def other_secret(other_tenant):
    return services.identity_settings_ensure(tenant=other_tenant).secret


def sign(secret, sub="user-42", ttl=600, **claims):
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + ttl, **claims}, secret, algorithm="HS256")


def session(client, tenant, identity=None, anonymous_id=None):
    body = {"key": tenant.widget_key, "url": SHOP + "/account"}
    if identity is not None:
        body["identity"] = identity
    if anonymous_id is not None:
        body["anonymous_id"] = anonymous_id
    return client.post(
        "/widget/api/session", data=json.dumps(body), content_type="application/json", headers={"Origin": SHOP}
    )


def visitors(tenant):
    with scopes_disabled():
        return list(Visitor.objects.filter(tenant=tenant))


# --- the claims themselves ----------------------------------------------------------------


def test_a_valid_token_gives_its_subject_name_and_email(secret):
    claims = claims_from_token(sign(secret, name="Ada Lovelace", email="ADA@example.com"), secret=secret)
    assert (claims.subject, claims.name, claims.email) == ("user-42", "Ada Lovelace", "ada@example.com")


def test_a_numeric_subject_must_be_sent_as_text_as_rfc_7519_says(secret):
    assert claims_from_token(sign(secret, sub="7"), secret=secret).subject == "7"
    with pytest.raises(IdentityRefused):
        claims_from_token(sign(secret, sub=7), secret=secret)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda s: sign(s, ttl=-120), id="expired"),
        pytest.param(lambda s: sign(s, ttl=3 * 24 * 3600), id="lives-for-days"),
        pytest.param(lambda s: sign("another secret " + s), id="forged"),
        pytest.param(lambda s: sign(s)[:-3] + "AAA", id="signature-tampered"),
        pytest.param(
            lambda s: jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, s * 2, algorithm="HS512"), id="hs512"
        ),
        pytest.param(
            lambda s: jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, None, algorithm="none"), id="alg-none"
        ),
        pytest.param(lambda s: jwt.encode({"sub": "u"}, s, algorithm="HS256"), id="no-expiry"),
        pytest.param(lambda s: jwt.encode({"exp": int(time.time()) + 60}, s, algorithm="HS256"), id="no-subject"),
        pytest.param(lambda s: sign(s, sub=""), id="empty-subject"),
        pytest.param(lambda s: sign(s, sub="x" * 256), id="long-subject"),
        pytest.param(lambda s: sign(s, sub="a\r\nb"), id="control-chars"),
        pytest.param(lambda s: "not.a.jwt", id="garbage"),
        pytest.param(lambda s: "a" * 5000, id="huge"),
        pytest.param(lambda s: 12345, id="not-text"),
    ],
)
def test_bad_tokens_are_refused(secret, make):
    with pytest.raises(IdentityRefused):
        claims_from_token(make(secret), secret=secret)


def test_the_hmac_form_proves_the_id_only(secret):
    claims = claims_from_hash({"user_id": "42", "user_hash": user_hash(secret, "42"), "name": "Bob"}, secret=secret)
    assert (claims.subject, claims.name, claims.details_signed) == ("42", "Bob", False)
    with pytest.raises(IdentityRefused):
        claims_from_hash({"user_id": "43", "user_hash": user_hash(secret, "42")}, secret=secret)
    with pytest.raises(IdentityRefused):
        claims_from_hash({"user_id": "42", "user_hash": user_hash(secret + "x", "42")}, secret=secret)
    with pytest.raises(IdentityRefused):
        claims_from_hash({"user_id": "42", "user_hash": "zz"}, secret=secret)


# --- through the widget session ---------------------------------------------------------------


def test_a_signed_user_becomes_a_verified_visitor_with_the_signed_details(client, tenant, secret):
    response = session(client, tenant, {"token": sign(secret, name="Ada", email="ada@example.com")})
    assert response.status_code == 200, response.content
    assert response.json()["visitor"]["verified"] is True
    (visitor,) = visitors(tenant)
    assert (visitor.external_id, visitor.name, visitor.email) == ("user-42", "Ada", "ada@example.com")
    assert visitor.verified_at is not None


def test_the_same_user_on_another_device_joins_the_same_visitor_and_history(client, tenant, secret):
    first = session(client, tenant, {"token": sign(secret)}, anonymous_id="device-one-0001").json()
    # On a second device the visitor first chats anonymously, then logs in on the site.
    anon = session(client, tenant, anonymous_id="device-two-0002").json()
    with scopes_disabled():
        stray = Visitor.objects.get(pk=anon["visitor"]["id"])
        factories.ConversationFactory(tenant=tenant, visitor=stray)
    second = session(client, tenant, {"token": sign(secret)}, anonymous_id="device-two-0002").json()
    assert second["visitor"]["id"] == first["visitor"]["id"]
    assert second["visitor"]["anonymous_id"] == "device-one-0001"
    with scopes_disabled():
        assert not Visitor.objects.filter(pk=stray.pk).exists()
        assert Conversation.objects.filter(visitor_id=first["visitor"]["id"]).count() == 1
        assert PageView.objects.filter(visitor_id=first["visitor"]["id"]).count() == 3


def test_the_same_user_id_in_another_tenant_is_another_visitor(client, tenant, secret, other_tenant, other_secret):
    ours = session(client, tenant, {"token": sign(secret)}).json()
    theirs = session(client, other_tenant, {"token": sign(other_secret)}).json()
    assert ours["visitor"]["id"] != theirs["visitor"]["id"]
    assert len(visitors(tenant)) == len(visitors(other_tenant)) == 1


def test_another_tenants_secret_is_refused_and_nothing_is_written(client, tenant, secret, other_secret):
    response = session(client, tenant, {"token": sign(other_secret)})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "identity_refused"
    assert visitors(tenant) == []


def test_an_expired_token_is_refused_with_a_clear_message(client, tenant, secret):
    response = session(client, tenant, {"token": sign(secret, ttl=-120)})
    assert response.status_code == 403
    assert "expired" in response.json()["error"]["message"]
    assert visitors(tenant) == []


def test_an_identity_for_a_tenant_without_a_secret_is_refused(client, tenant):
    response = session(client, tenant, {"token": jwt.encode({"sub": "x", "exp": time.time() + 60}, "k" * 32)})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "identity_refused"


def test_a_tenant_that_requires_it_refuses_sessions_without_an_identity(client, tenant, secret):
    with scopes_disabled():
        IdentitySettings.objects.filter(tenant=tenant).update(required=True)
    response = session(client, tenant)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "identity_required"
    assert visitors(tenant) == []
    assert session(client, tenant, {"token": sign(secret)}).status_code == 200


def test_the_hmac_form_through_the_session(client, tenant, secret):
    ok = session(client, tenant, {"user_id": "42", "user_hash": user_hash(secret, "42"), "name": "Bob"})
    assert ok.status_code == 200 and ok.json()["visitor"]["verified"] is True
    bad = session(client, tenant, {"user_id": "43", "user_hash": user_hash(secret, "42")})
    assert bad.status_code == 403


def test_a_verified_visitor_is_not_resumed_without_the_same_proof(client, tenant, secret):
    """After a logout (or the next person at a shared computer) the first-party id alone shows nothing."""
    verified = session(client, tenant, {"token": sign(secret)}, anonymous_id="shared-pc-0001").json()
    anon = session(client, tenant, anonymous_id="shared-pc-0001").json()
    assert anon["visitor"]["id"] != verified["visitor"]["id"]
    assert anon["visitor"]["verified"] is False
    other_user = session(client, tenant, {"token": sign(secret, sub="user-43")}, anonymous_id="shared-pc-0001").json()
    assert other_user["visitor"]["id"] not in (verified["visitor"]["id"], anon["visitor"]["id"])


def test_rotating_the_secret_refuses_tokens_signed_with_the_old_one(client, tenant, secret):
    services.identity_secret_rotate(tenant=tenant)
    assert session(client, tenant, {"token": sign(secret)}).status_code == 403


def test_identity_links_never_cross_tenants(tenant, other_tenant, other_visitor):
    from apps.conversations.errors import NotFound
    from apps.identity.claims import Claims

    with pytest.raises(NotFound):
        services.visitor_identity_link(tenant=tenant, visitor=other_visitor, source="site", claims=Claims("u"))
    with pytest.raises(NotFound), scopes_disabled():
        services.visitor_merge(tenant=tenant, source=other_visitor, target=other_visitor)
    with scopes_disabled():
        assert not VisitorIdentity.objects.exists()
