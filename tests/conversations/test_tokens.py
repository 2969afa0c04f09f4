import pytest
from django.core import signing

from apps.conversations.tokens import InvalidVisitorToken, origin_allowed, visitor_token_issue, visitor_token_read

pytestmark = pytest.mark.django_db


def test_a_token_reads_back_as_its_tenant_and_visitor(tenant, visitor):
    token = visitor_token_issue(tenant=tenant, visitor=visitor)
    assert visitor_token_read(token) == (tenant.pk, visitor.pk)


def test_a_token_is_not_issued_for_another_tenants_visitor(tenant, other_visitor):
    with pytest.raises(ValueError):
        visitor_token_issue(tenant=tenant, visitor=other_visitor)


def test_a_tampered_token_is_refused(tenant, visitor, other_tenant):
    token = visitor_token_issue(tenant=tenant, visitor=visitor)
    payload, _, signature = token.partition(":")
    forged_payload = signing.b64_encode(f"[{other_tenant.pk},{visitor.pk}]".encode()).decode()
    for forged in [forged_payload + ":" + signature, token[:-2] + "xx", token + "a", ""]:
        with pytest.raises(InvalidVisitorToken):
            visitor_token_read(forged)


def test_a_token_signed_with_another_salt_or_key_is_refused(tenant, visitor, settings):
    with pytest.raises(InvalidVisitorToken):
        visitor_token_read(signing.dumps([tenant.pk, visitor.pk], salt="parley.other"))
    token = visitor_token_issue(tenant=tenant, visitor=visitor)
    settings.SECRET_KEY = "django-insecure-another-key-entirely"
    with pytest.raises(InvalidVisitorToken):
        visitor_token_read(token)


@pytest.mark.parametrize("payload", [{"t": 1, "v": 2}, [1], [1, "2"], [0, 1], [1, 2, 3], "1:2", [True, 1]])
def test_a_validly_signed_but_malformed_payload_is_refused(payload):
    with pytest.raises(InvalidVisitorToken):
        visitor_token_read(signing.dumps(payload, salt="parley.visitor"))


@pytest.mark.parametrize("token", [None, 123, "x" * 500])
def test_junk_is_refused(token):
    with pytest.raises(InvalidVisitorToken):
        visitor_token_read(token)


def test_an_expired_token_is_refused(tenant, visitor):
    token = visitor_token_issue(tenant=tenant, visitor=visitor)
    with pytest.raises(InvalidVisitorToken) as exc:
        visitor_token_read(token, max_age=-1)
    assert exc.value.code == "unauthorized" and exc.value.http_status == 401


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.test", True),
        ("http://shop.test:8080", True),
        ("https://www.blog.test", True),
        ("https://blog.test", True),
        ("https://evil.test", False),
        ("https://shop.test.evil.test", False),
        ("https://evilshop.test", False),
        ("https://notblog.test", False),
        ("null", False),
        (None, False),
        ("", False),
        ("file://shop.test", False),
        ("https://shop.test/path", False),
        ("https://user@shop.test", False),
        ("http://localhost:8000", True),  # Parley's own origin serves the chat iframe
        ("https://localhost:8000", False),
        ("http://localhost:8001", False),
    ],
)
def test_origin_allowed(tenant, settings, origin, allowed):
    settings.PARLEY_BASE_URL = "http://localhost:8000"
    tenant.allowed_domains = "shop.test\n*.blog.test"
    assert origin_allowed(tenant, origin) is allowed


def test_a_tenant_without_a_domain_list_allows_any_site_but_not_a_missing_origin(tenant):
    tenant.allowed_domains = ""
    assert origin_allowed(tenant, "https://anything.test")
    assert not origin_allowed(tenant, None)
