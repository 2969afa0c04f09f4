"""Every new company starts with canned replies in its language."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.accounts.models import Tenant
from apps.canned import placeholders, selectors
from apps.canned.models import CannedReply, Scope
from apps.canned.starter import STARTER_SETS, canned_starter_set_create

pytestmark = pytest.mark.django_db

SIGNUP = {"company_name": "Blue Bottle", "slug": "", "name": "Ann Lee", "password": "a kettle of green tea"}
EXPECTED = {
    "en": ("Delivery times", "Hold"),
    "ru": ("Сроки доставки", "ожидание"),
    "pl": ("Czas dostawy", "oczekiwanie"),
}


@pytest.mark.parametrize("language", ["en", "ru", "pl"])
def test_signup_in_each_language_creates_the_starter_set_in_that_language(client, language):
    response = client.post(
        reverse("signup"), {**SIGNUP, "email": f"ann-{language}@blue.test"}, HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 302
    with scopes_disabled():
        tenant = Tenant.objects.get()
        replies = list(CannedReply.objects.filter(tenant=tenant))
    assert tenant.default_language == language
    assert len(replies) == len(STARTER_SETS[language]) >= 8
    assert {r.language for r in replies} == {language} and {r.scope for r in replies} == {Scope.TENANT}
    delivery = next(r for r in replies if r.shortcut == "delivery")
    assert delivery.title == EXPECTED[language][0]
    assert any(EXPECTED[language][1].lower() in r.tags for r in replies)
    # Greetings, hold phrases, asking for an email, closing lines.
    assert {"hello", "wait", "email", "bye"} <= {r.shortcut for r in replies}


@pytest.mark.parametrize("language", ["en", "ru", "pl"])
def test_every_starter_reply_passes_the_same_checks_as_a_hand_made_one(language):
    for _shortcut, title, text, _tags in STARTER_SETS[language]:
        assert placeholders.problems(text) == [], title


def test_starter_replies_are_editable_and_found_like_any_other(tenant, operator):
    canned_starter_set_create(tenant=tenant, language="pl")
    found = selectors.canned_search(tenant=tenant, membership=operator, query="dost")
    assert found[0]["title"] == "Czas dostawy"
    assert canned_starter_set_create(tenant=tenant, language="pl") == []


def test_a_failed_signup_leaves_no_replies(client):
    client.post(reverse("signup"), {**SIGNUP, "email": "not an email"})
    with scopes_disabled():
        assert not CannedReply.objects.exists() and not Tenant.objects.exists()
