"""Who sees which reply, and in which order the reply box suggests them."""

import pytest
from django_scopes import scopes_disabled

from apps.canned import selectors, services
from apps.canned.models import CannedReply, Scope
from apps.conversations.errors import NotFound

pytestmark = pytest.mark.django_db


def shortcuts(tenant, membership, query, **kwargs):
    return [r["shortcut"] for r in selectors.canned_search(tenant=tenant, membership=membership, query=query, **kwargs)]


def test_an_operator_sees_tenant_replies_their_departments_and_their_own_personal_ones(
    tenant, operator, colleague, sales, support, make_reply
):
    make_reply("shared")
    make_reply("sales", scope=Scope.DEPARTMENT, department=sales)
    make_reply("support", scope=Scope.DEPARTMENT, department=support)
    make_reply("mine", scope=Scope.PERSONAL, owner=operator)
    make_reply("theirs", scope=Scope.PERSONAL, owner=colleague)

    assert sorted(shortcuts(tenant, operator, "")) == ["mine", "sales", "shared"]
    assert sorted(shortcuts(tenant, colleague, "")) == ["shared", "theirs"]


def test_another_tenants_replies_are_never_suggested_nor_found_by_id(
    tenant, operator, other_tenant, other_operator, make_reply
):
    theirs = make_reply("delivery", on=other_tenant)
    make_reply("delivery-eu", on=other_tenant, scope=Scope.PERSONAL, owner=other_operator)
    assert shortcuts(tenant, operator, "deliv") == []
    with pytest.raises(NotFound):
        selectors.canned_reply_get(tenant=tenant, membership=operator, reply_id=theirs.pk)


def test_another_departments_and_colleagues_replies_are_not_found_by_id(
    tenant, operator, colleague, support, make_reply
):
    support_reply = make_reply("refund", scope=Scope.DEPARTMENT, department=support)
    personal = make_reply("note", scope=Scope.PERSONAL, owner=colleague)
    for reply in (support_reply, personal):
        with pytest.raises(NotFound):
            selectors.canned_reply_get(tenant=tenant, membership=operator, reply_id=reply.pk)
    for bad in ("x", None, -1, 2**70, True):
        with pytest.raises(NotFound):
            selectors.canned_reply_get(tenant=tenant, membership=operator, reply_id=bad)


def test_ranking_shortcut_prefix_then_shortcut_substring_then_title_or_text_then_usage(tenant, operator, make_reply):
    by_text = make_reply("zz1", "Zebra", "Ask about the DELivery address")
    by_title = make_reply("zz2", "Delivery times", "We ship daily.")
    make_reply("model", "Models", "Nothing about it")
    make_reply("xdel", "Cross", "Irrelevant")
    make_reply("delivery", "Shipping", "Irrelevant")
    make_reply("delta", "Delta", "Irrelevant")
    with scopes_disabled():
        CannedReply.objects.filter(pk=by_text.pk).update(usage_count=9)
        CannedReply.objects.filter(pk=by_title.pk).update(usage_count=1)

    # Shortcut prefixes (alphabetical by title: Delta, Shipping), then shortcut substrings
    # (Cross, Models), then title or text matches, the more used first (Zebra 9, Delivery times 1).
    assert shortcuts(tenant, operator, "del") == ["delta", "delivery", "xdel", "model", "zz1", "zz2"]


def test_usage_orders_replies_within_the_same_tier(tenant, operator, make_reply):
    make_reply("hello", "Hello")
    used = make_reply("help", "Help")
    for _ in range(3):
        services.canned_usage_record(tenant=tenant, reply=used, membership=operator)
    assert shortcuts(tenant, operator, "hel") == ["help", "hello"]


def test_search_ignores_case_and_diacritics_in_every_language(tenant, operator, make_reply):
    make_reply("zolw", "Żółw na ŁODZI", "Tekst")
    make_reply("dostavka", "Сроки доставки", "Обычно заказ приходит за 2–5 дней")
    make_reply("elka", "Ёлка", "Новогодняя")
    assert shortcuts(tenant, operator, "łódź") == ["zolw"]
    assert shortcuts(tenant, operator, "lodka") == []
    assert shortcuts(tenant, operator, "ŁODZ") == ["zolw"]
    assert shortcuts(tenant, operator, "żółw") == ["zolw"]
    assert shortcuts(tenant, operator, "ДОСТАВ") == ["dostavka"]
    assert shortcuts(tenant, operator, "заказ дней") == ["dostavka"]
    assert shortcuts(tenant, operator, "елка") == ["elka"]


def test_hash_searches_tags_by_prefix(tenant, operator, make_reply):
    make_reply("a", tags="delivery, shipping")
    make_reply("b", tags="доставка")
    make_reply("c", tags="billing")
    assert shortcuts(tenant, operator, "#ship") == ["a"]
    assert shortcuts(tenant, operator, "#ДОСТ") == ["b"]
    assert shortcuts(tenant, operator, "#ing") == []


def test_wildcards_in_a_query_are_plain_characters(tenant, operator, make_reply):
    make_reply("percent", "Fifty", "50% off")
    make_reply("other", "Other", "500 off")
    assert shortcuts(tenant, operator, "50%") == ["percent"]
    assert shortcuts(tenant, operator, "_") == []


def test_language_filter(tenant, operator, make_reply):
    make_reply("hi", language="en")
    make_reply("privet", language="ru")
    assert shortcuts(tenant, operator, "", language="ru") == ["privet"]


def test_a_reply_that_matches_several_tiers_is_listed_once_in_its_best(tenant, operator, make_reply):
    make_reply("del", "Del", "del del del")  # prefix, substring and text all match
    make_reply("adel", "Adel", "del")
    assert shortcuts(tenant, operator, "del") == ["del", "adel"]
    # Both are shortcut substrings of "el" (no prefix): alphabetical by title, and cut at the limit.
    assert shortcuts(tenant, operator, "el", limit=1) == ["adel"]
