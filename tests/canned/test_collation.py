"""Alphabetical browse by the tenant's language: Russian and Polish rules, in the database."""

import random

import pytest
from django_scopes import scopes_disabled

from apps.canned import selectors, services
from apps.canned.collation import collation_key, folded
from apps.canned.models import CannedReply

POLISH = [
    "ac",
    "ala",
    "Ala",
    "ąb",
    "cytryna",
    "ćma",
    "ex",
    "ęa",
    "lody",
    "łódź",
    "nic",
    "ńa",
    "owca",
    "óda",
    "sok",
    "śmiech",
    "zebra",
    "źdźbło",
    "żaba",
]
RUSSIAN = ["арбуз", "Арбуз", "еда", "Ёж", "ежевика", "ёлка", "ель", "жук", "иней", "йогурт", "кот", "эхо", "яблоко"]


def test_polish_letters_with_marks_follow_their_base_letter():
    shuffled = random.Random(1).sample(POLISH, len(POLISH))
    assert sorted(shuffled, key=lambda s: collation_key(s, "pl")) == POLISH


def test_russian_yo_sorts_with_ye_and_short_i_after_i():
    shuffled = random.Random(2).sample(RUSSIAN, len(RUSSIAN))
    assert sorted(shuffled, key=lambda s: collation_key(s, "ru")) == RUSSIAN


def test_english_treats_polish_marks_as_accents():
    assert sorted(["ac", "ąb"], key=lambda s: collation_key(s, "en")) == ["ąb", "ac"]
    assert sorted(["ac", "ąb"], key=lambda s: collation_key(s, "pl")) == ["ac", "ąb"]


def test_shorter_word_first_and_digits_before_letters():
    words = ["1 apple", "ab", "abc", "b"]
    shuffled = ["abc", "b", "1 apple", "ab"]
    assert sorted(shuffled, key=collation_key) == words


def test_folded_drops_case_and_marks():
    assert folded("Żółw ŁÓDŹ Ёлка") == "zolw lodz елка"


@pytest.mark.parametrize(("language", "titles"), [("pl", POLISH), ("ru", RUSSIAN)])
def test_the_database_browses_in_the_tenants_alphabet(db, tenant, operator, language, titles):
    """The same order on SQLite and PostgreSQL, whatever the database's own collation."""
    tenant.default_language = language
    tenant.save()
    for n, title in enumerate(random.Random(3).sample(titles, len(titles))):
        services.canned_reply_create(tenant=tenant, shortcut=f"s{n}", title=title, text="x")
    page = selectors.canned_browse(tenant=tenant, membership=operator, limit=200)
    assert [r["title"] for r in page["replies"]] == titles
    assert selectors.canned_search(tenant=tenant, membership=operator, query="", limit=3) == page["replies"][:3]


def test_changing_the_tenants_language_resorts_its_replies(db, tenant, operator):
    for n, title in enumerate(["ąb", "ac"]):
        services.canned_reply_create(tenant=tenant, shortcut=f"s{n}", title=title, text="x")
    titles = lambda: [r["title"] for r in selectors.canned_browse(tenant=tenant, membership=operator)["replies"]]  # noqa: E731
    assert titles() == ["ąb", "ac"]
    tenant.default_language = "pl"
    tenant.save()
    assert services.canned_sort_keys_refresh(tenant=tenant) == 2
    assert titles() == ["ac", "ąb"]
    with scopes_disabled():
        assert CannedReply.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.parametrize("database_collation", ["C", "en-x-icu", "pl-x-icu", "ru-x-icu"])
def test_the_key_sorts_alike_under_any_postgresql_collation(db, tenant, database_collation):
    """A database created with a locale collation orders the hexadecimal keys as bytes too."""
    from django.db.models.functions import Collate

    titles = POLISH + RUSSIAN + ["Zebra 10", "zebra 9", "!wow", "Ärger", "Øre", "中文"]
    for n, title in enumerate(titles):
        services.canned_reply_create(tenant=tenant, shortcut=f"s{n}", title=title, text="x")
    with scopes_disabled():
        keys = list(
            CannedReply.objects.order_by(Collate("sort_key", database_collation), "id").values_list(
                "sort_key", flat=True
            )
        )
    assert keys == sorted(keys)
