"""One place cleans outside text: invalid Unicode, control characters, line breaks where a header may follow."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.accounts import services
from apps.accounts.models import Tenant, User
from apps.core.text import clean_text, header_safe, single_line

SIGNUP = {
    "company_name": "Blue Bottle Tea",
    "slug": "",
    "name": "Ann Lee",
    "email": "ann@bluebottle.test",
    "password": "a kettle of green tea",
}


@pytest.mark.parametrize(
    ("raw", "multiline", "clean"),
    [
        ("lone \ud800 surrogate", True, "lone \ufffd surrogate"),
        ("low \udfff too", True, "low \ufffd too"),
        ("nul\x00 bell\x07 esc\x1b del\x7f c1\x85\x9b", True, "nul bell esc del c1"),
        ("windows\r\nold mac\rline", True, "windows\nold mac\nline"),
        ("tab\tstays", True, "tab\tstays"),
        ("  many\n\n lines  \t here ", False, "many lines here"),
        ("emoji 👋 and Кириллица", True, "emoji 👋 and Кириллица"),
    ],
)
def test_clean_text_replaces_invalid_unicode_and_drops_controls(raw, multiline, clean):
    assert clean_text(raw, multiline=multiline) == clean
    clean_text(raw, multiline=multiline).encode("utf-8")  # always encodable


@pytest.mark.parametrize("value", ["Acme\r\nBcc: x@evil.test", "Acme\nX", "Acme\rX", "A\u2028B", "A\x85B", "A\x0bB"])
def test_a_value_bound_for_a_mail_header_is_refused_with_any_line_break(value):
    with pytest.raises(ValidationError):
        single_line(value)
    with pytest.raises(ValidationError):
        header_safe(value)


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["company_name", "name"])
@pytest.mark.parametrize("value", ["Evil\r\nBcc: victim@example.test", "Evil\nCo", "Evil\u2028Co"])
def test_signup_refuses_a_name_with_a_line_break_and_creates_nothing(client, field, value):
    response = client.post(reverse("signup"), {**SIGNUP, field: value})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    with pytest.raises(ValidationError) as caught:
        services.tenant_signup(**{**SIGNUP, field: value})
    assert field in caught.value.message_dict
    assert not Tenant.objects.exists() and not User.objects.exists()


@pytest.mark.django_db
def test_signup_cleans_invalid_unicode_and_controls_from_names(client):
    membership = services.tenant_signup(**{**SIGNUP, "company_name": "Blue\x00 Bottle \ud800", "name": "Ann\x07 Lee"})
    with scopes_disabled():
        assert membership.tenant.name == "Blue Bottle \ufffd"
        assert membership.user.name == "Ann Lee"


@pytest.mark.django_db
def test_the_admin_refuses_a_company_name_with_a_line_break(client, owner, tenant):
    client.force_login(owner.user)
    owner_client = client
    url = reverse("admin:accounts_tenant_change", args=[tenant.pk])
    response = owner_client.post(
        url,
        {"name": "Acme\r\nBcc: x@evil.test", "time_zone": "UTC", "default_language": "en", "allowed_domains": ""},
    )
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    tenant.refresh_from_db()
    assert tenant.name == "Acme"


@pytest.mark.django_db
def test_the_invitation_mail_survives_a_stored_name_with_a_line_break(
    tenant, owner, mailoutbox, django_capture_on_commit_callbacks
):
    """Rows written before the edge refused them must not break the worker either."""
    Tenant.objects.filter(pk=tenant.pk).update(name="Acme\r\nBcc: x@evil.test")
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            tenant=Tenant.objects.get(pk=tenant.pk), email="new@acme.test", role="operator", invited_by=owner.user
        )
    [message] = mailoutbox
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.recipients() == ["new@acme.test"]
