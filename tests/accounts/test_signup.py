import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.accounts import services
from apps.accounts.models import Membership, Role, Tenant, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

GOOD = {
    "company_name": "Blue Bottle Tea",
    "slug": "",
    "name": "Ann Lee",
    "email": "Ann@BlueBottle.test",
    "password": "a kettle of green tea",
}


def row_counts() -> tuple[int, int, int]:
    with scopes_disabled():
        return Tenant.objects.count(), User.objects.count(), Membership.objects.count()


def test_signup_creates_tenant_owner_and_membership_and_lands_on_get_started(client):
    response = client.post(reverse("signup"), GOOD)

    assert response.status_code == 302
    assert response["Location"] == reverse("get_started")
    tenant = Tenant.objects.get()
    assert tenant.name == "Blue Bottle Tea"
    assert tenant.slug == "blue-bottle-tea"
    assert tenant.widget_key.startswith("pk_")
    assert len(tenant.inbound_email_token) == 20
    user = User.objects.get()
    assert user.email == "ann@bluebottle.test"
    assert user.check_password(GOOD["password"])
    with scopes_disabled():
        membership = Membership.objects.get()
    assert (membership.tenant, membership.user, membership.role) == (tenant, user, Role.OWNER)

    page = client.get(reverse("get_started"))
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        f"&lt;script async src=&quot;https://parley.example/widget/loader.js&quot; "
        f"data-parley-key=&quot;{tenant.widget_key}&quot;&gt;&lt;/script&gt;"
    ) in html
    assert tenant.inbound_address in html
    assert 'href="/admin/"' in html
    assert 'href="/app/"' in html
    assert f'href="/widget/preview/{tenant.widget_key}/"' in html
    assert "Protect your account with two-factor" in html


def test_signup_is_one_transaction(monkeypatch):
    """A failure after the tenant row is written leaves no tenant behind."""

    def broken_create_user(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(User.objects, "create_user", broken_create_user)
    with pytest.raises(RuntimeError):
        services.tenant_signup(company_name="Acme", slug="", email="a@acme.test", password=GOOD["password"])
    assert row_counts() == (0, 0, 0)


def test_a_taken_derived_slug_gets_a_suffix(tenant):
    membership = services.tenant_signup(company_name="Acme", email="boss@acme2.test", password=GOOD["password"])
    assert membership.tenant.slug.startswith("acme-")
    assert len(membership.tenant.slug) == len("acme-") + 4


def test_a_name_without_latin_letters_still_gets_a_slug():
    membership = services.tenant_signup(company_name="Ромашка", email="boss@romashka.test", password=GOOD["password"])
    assert membership.tenant.slug == "company"
    assert membership.tenant.name == "Ромашка"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"company_name": "   "}, "company_name", ""),
        ({"email": "owner@acme.test"}, "email", "already exists"),
        ({"email": "OWNER@ACME.TEST"}, "email", "already exists"),
        ({"email": "not-an-email"}, "email", ""),
        ({"password": "short"}, "password", "too short"),
        ({"password": "password1234"}, "password", "too common"),
        ({"password": "4815162342108"}, "password", "entirely numeric"),
        ({"slug": "acme"}, "slug", "already taken"),
        ({"slug": "Not A Slug!"}, "slug", ""),
    ],
)
def test_invalid_signup_shows_the_field_error_and_creates_nothing(client, owner, change, field, message):
    before = row_counts()

    response = client.post(reverse("signup"), {**GOOD, **change})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert row_counts() == before
    assert "_auth_user_id" not in client.session


def test_the_service_reports_every_problem_at_once():
    with pytest.raises(ValidationError) as caught:
        services.tenant_signup(company_name="", email="x", password="1")
    assert set(caught.value.message_dict) == {"company_name", "email", "password"}
    assert row_counts() == (0, 0, 0)


def test_signup_page_renders_for_anonymous_visitors(client):
    response = client.get(reverse("signup"))
    assert response.status_code == 200
    assert b"Company name" in response.content


def test_home_sends_members_to_the_dashboard_and_visitors_to_login(client, owner):
    assert client.get("/")["Location"] == reverse("account_login")
    client.login(email=owner.user.email, password=PASSWORD)
    assert client.get("/")["Location"] == reverse("dashboard:app")


def test_get_started_hides_company_keys_from_operators(client, operator):
    client.login(email=operator.user.email, password=PASSWORD)
    response = client.get(reverse("get_started"))
    assert response.status_code == 200
    assert operator.tenant.widget_key not in response.content.decode()
    assert b'href="/app/"' in response.content


def test_get_started_needs_a_login(client):
    response = client.get(reverse("get_started"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_signup_attempts_are_rate_limited(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "2/m/ip"}
    for _ in range(2):
        assert client.post(reverse("signup"), {**GOOD, "password": "1"}).status_code == 200
    assert client.post(reverse("signup"), GOOD).status_code == 429
    assert row_counts() == (0, 0, 0)
