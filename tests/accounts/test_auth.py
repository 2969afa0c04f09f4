import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.accounts.models import Department, Membership, Role, Tenant, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_with_email_and_logout(client, owner):
    page = client.get(reverse("account_login"))
    assert page.status_code == 200
    assert reverse("signup") in page.content.decode()  # "Sign up your company"

    response = client.post(reverse("account_login"), {"login": "OWNER@acme.test", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.user.pk)
    assert client.get("/", follow=True).request["PATH_INFO"] == reverse("dashboard:app")

    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_login_with_a_wrong_password_is_refused(client, owner):
    response = client.post(reverse("account_login"), {"login": owner.user.email, "password": "wrong password!"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_allauth_signup_is_closed(client):
    """Bare accounts without a company are useless: people sign up a company or are invited."""
    client.post(reverse("account_signup"), {"email": "x@y.test", "password1": "x" * 12, "password2": "x" * 12})
    assert not User.objects.exists()
    assert reverse("signup") in client.get(reverse("account_signup")).content.decode()


def test_password_reset_sends_an_email(client, owner):
    response = client.post(reverse("account_reset_password"), {"email": owner.user.email})
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == [owner.user.email]
    assert "/accounts/password/reset/key/" in message.body


def test_two_factor_page_uses_the_parley_layout(client, owner):
    client.login(email=owner.user.email, password=PASSWORD)
    response = client.get(reverse("mfa_index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="site-header"' in html
    assert "css/app.css" in html


@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "Sign up your company"), ("ru", "Зарегистрируйте компанию"), ("pl", "Zarejestruj firmę")],
)
def test_language_switch_renders_pages_in_that_language(client, language, text):
    response = client.post(reverse("set_language"), {"language": language, "next": reverse("account_login")})
    assert response.status_code == 302

    html = client.get(reverse("account_login")).content.decode()
    assert f'<html lang="{language}">' in html
    assert text in html
    html = client.get(reverse("signup")).content.decode()
    assert f'<html lang="{language}">' in html


def test_seed_demo_is_idempotent(capsys, settings):
    call_command("seed_demo")
    first = capsys.readouterr().out

    def snapshot():
        with scopes_disabled():
            return (
                list(Tenant.objects.values_list("slug", "name", "widget_key", "inbound_email_token")),
                list(User.objects.order_by("email").values_list("email", "password")),
                list(Membership.objects.order_by("user__email").values_list("user__email", "role", "is_active")),
                list(Department.objects.values_list("name")),
                sorted(Department.members.through.objects.values_list("department__name", "membership__user__email")),
            )

    before = snapshot()
    call_command("seed_demo")
    second = capsys.readouterr().out

    assert snapshot() == before
    assert first == second
    tenants, users, memberships, departments, department_members = before
    assert [(slug, name) for slug, name, *_ in tenants] == [("demo", "Demo Company")]
    assert memberships == [
        ("alice@demo.parley.test", Role.OPERATOR, True),
        ("bob@demo.parley.test", Role.OPERATOR, True),
        ("owner@demo.parley.test", Role.OWNER, True),
    ]
    assert department_members == [("Support", "alice@demo.parley.test"), ("Support", "bob@demo.parley.test")]
    assert Tenant.objects.get().allowed_domains == ""
    for email, *_ in users:
        assert User.objects.get(email=email).check_password("parley-demo-2026")
    for path in ("/signup/", "/accounts/login/", "/admin/", "/app/", "/get-started/"):
        assert f"{settings.PARLEY_BASE_URL}{path}" in first
    assert "owner@demo.parley.test" in first and "parley-demo-2026" in first


def test_a_member_of_two_companies_switches_between_them(client, operator, tenant, other_tenant):
    from tests import factories

    with scopes_disabled():
        factories.MembershipFactory(tenant=other_tenant, user=operator.user, role=Role.ADMIN)
    client.login(email=operator.user.email, password=PASSWORD)
    assert client.get(reverse("get_started")).context["tenant"] == tenant
    assert reverse("tenant_switch") in client.get(reverse("get_started")).content.decode()

    response = client.post(reverse("tenant_switch"), {"tenant": other_tenant.pk, "next": "/team/invite/"})

    assert response["Location"] == "/team/invite/"
    assert client.get(reverse("get_started")).context["tenant"] == other_tenant


def test_switching_to_a_company_one_is_not_in_is_answered_as_missing(client, operator, other_tenant):
    client.login(email=operator.user.email, password=PASSWORD)
    for tenant_id in (other_tenant.pk, 999999, "x"):
        assert client.post(reverse("tenant_switch"), {"tenant": tenant_id}).status_code == 404
    assert client.get(reverse("get_started")).context["tenant"] == operator.tenant


def test_switch_refuses_an_offsite_next(client, operator):
    client.login(email=operator.user.email, password=PASSWORD)
    response = client.post(reverse("tenant_switch"), {"tenant": operator.tenant_id, "next": "https://evil.test/"})
    assert response["Location"] == reverse("get_started")


# --- login throttling: per address and per account -------------------------------


@pytest.fixture
def _clean_login_limits():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _guess(client, login, password="wrong password!", address="10.0.0.1"):
    return client.post(reverse("account_login"), {"login": login, "password": password}, REMOTE_ADDR=address)


@pytest.mark.usefixtures("_clean_login_limits")
def test_an_account_is_locked_after_failed_guesses_from_many_addresses_and_told_when_to_return(client, owner):
    # Five addresses, and the address typed five ways: all count against the one account.
    logins = ["owner@acme.test", "OWNER@acme.test", " owner@ACME.test", "Owner@acme.test", "owner@acme.test"]
    for n, login in enumerate(logins):
        response = _guess(client, login, address=f"10.0.{n}.1")
        assert response.status_code == 200
        assert "Too many failed login attempts" not in response.content.decode()
    # The right password from a fresh address is refused while the account is locked.
    response = _guess(client, owner.user.email, password=PASSWORD, address="10.9.9.9")
    html = response.content.decode()
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts. Try again in 5 minutes (at " in html
    # Another account from the same addresses is not affected.
    other = _guess(client, "nobody@acme.test", address="10.9.9.9").content.decode()
    assert "Too many failed login attempts" not in other


@pytest.mark.usefixtures("_clean_login_limits")
def test_one_address_is_limited_across_accounts(client, owner):
    for n in range(10):
        assert "Too many" not in _guess(client, f"guess{n}@acme.test").content.decode()
    refused = _guess(client, "guess99@acme.test").content.decode()
    assert "Too many failed login attempts. Try again in 1 minute" in refused


@pytest.mark.usefixtures("_clean_login_limits")
def test_the_lockout_message_is_translated(client, owner):
    for _ in range(5):
        _guess(client, owner.user.email)
    client.cookies["django_language"] = "ru"
    html = _guess(client, owner.user.email).content.decode()
    assert "Слишком много неудачных попыток входа" in html
