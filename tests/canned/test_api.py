"""/app/api/canned/: an operator's suggestions, personal replies, fill and hotkeys over HTTP."""

import json

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.canned.models import CannedReply, Scope

pytestmark = pytest.mark.django_db

URL = "/app/api/canned/"


def post(client, url, data, method="post"):
    return getattr(client, method)(url, json.dumps(data), content_type="application/json")


def test_search_answers_the_operators_visible_replies_ranked(
    op_client, operator, colleague, sales, support, make_reply
):
    make_reply("delivery", "Delivery times")
    make_reply("delsales", scope=Scope.DEPARTMENT, department=sales)
    make_reply("delsupport", scope=Scope.DEPARTMENT, department=support)
    make_reply("delmine", scope=Scope.PERSONAL, owner=operator)
    make_reply("deltheirs", scope=Scope.PERSONAL, owner=colleague)
    response = op_client.get(URL, {"q": "del"})
    assert response.status_code == 200
    replies = response.json()["replies"]
    assert [r["shortcut"] for r in replies] == ["delivery", "delmine", "delsales"]
    assert [r["editable"] for r in replies] == [False, True, False]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "{id}", None),
        ("patch", "{id}", {"title": "Mine now"}),
        ("delete", "{id}", None),
        ("post", "{id}/fill", {}),
        ("post", "hotkeys", {"slot": 1, "reply": "{id}"}),
    ],
)
@pytest.mark.parametrize("whose", ["other_tenant", "other_department", "colleague_personal"])
def test_a_reply_the_operator_cannot_see_is_not_found(
    op_client, other_tenant, other_operator, colleague, support, make_reply, method, path, body, whose
):
    reply = {
        "other_tenant": lambda: make_reply("x", on=other_tenant),
        "other_department": lambda: make_reply("x", scope=Scope.DEPARTMENT, department=support),
        "colleague_personal": lambda: make_reply("x", scope=Scope.PERSONAL, owner=colleague),
    }[whose]()
    with scopes_disabled():
        before = list(CannedReply.objects.values())
    url = URL + path.format(id=reply.pk)
    if body is not None:
        body = {k: (reply.pk if v == "{id}" else v) for k, v in body.items()}
        response = post(op_client, url, body, method)
    else:
        response = getattr(op_client, method)(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    with scopes_disabled():
        assert list(CannedReply.objects.values()) == before


def test_fill_for_another_tenants_conversation_is_not_found(op_client, other_conversation, make_reply):
    reply = make_reply("hi")
    response = post(op_client, f"{URL}{reply.pk}/fill", {"conversation": other_conversation.pk})
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_fill_returns_the_filled_text(op_client, operator, conversation, make_reply):
    reply = make_reply("hi", text="Hi {{visitor.name|there}}, {{operator.name}} of {{company.name}} here.")
    response = post(op_client, f"{URL}{reply.pk}/fill", {"conversation": conversation.pk})
    assert response.status_code == 200
    assert response.json()["text"] == f"Hi there, {operator.name_for_visitors} of Acme here."


def test_an_operator_manages_their_personal_replies(op_client, operator):
    created = post(
        op_client,
        URL,
        {
            "title": "Zwrot",
            "shortcut": "zwrot",
            "text": "Dziękuję, {{visitor.name|}}!",
            "language": "pl",
            "tags": ["zwroty"],
        },
    )
    assert created.status_code == 201
    reply = created.json()["reply"]
    assert reply["scope"] == "personal" and reply["editable"] and reply["tags"] == ["zwroty"]
    changed = post(op_client, f"{URL}{reply['id']}", {"title": "Zwrot pieniędzy"}, "patch")
    assert changed.status_code == 200 and changed.json()["reply"]["title"] == "Zwrot pieniędzy"
    assert op_client.delete(f"{URL}{reply['id']}").status_code == 200
    with scopes_disabled():
        assert not CannedReply.objects.exists()


def test_shared_replies_are_read_only_for_operators(op_client, make_reply):
    shared = make_reply("hello")
    response = post(op_client, f"{URL}{shared.pk}", {"title": "Changed"}, "patch")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert op_client.delete(f"{URL}{shared.pk}").status_code == 403


def test_an_operator_cannot_create_a_shared_reply_through_the_api(op_client):
    response = post(op_client, URL, {"title": "T", "shortcut": "t", "text": "x", "scope": "tenant"})
    assert response.status_code == 201 and response.json()["reply"]["scope"] == "personal"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "T", "shortcut": "t", "text": "Hi {{visitor.nmae}}"}, "text"),
        ({"title": "T", "shortcut": "a b", "text": "x"}, "shortcut"),
        ({"title": "", "shortcut": "t", "text": "x"}, "title"),
    ],
)
def test_bad_input_is_a_400_with_the_field(op_client, body, field):
    response = post(op_client, URL, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request" and response.json()["error"]["field"] == field
    with scopes_disabled():
        assert not CannedReply.objects.exists()


def test_malformed_and_oversized_bodies_are_refused(op_client):
    assert op_client.post(URL, "{not json", content_type="application/json").status_code == 400
    huge = json.dumps({"title": "T", "shortcut": "t", "text": "x" * 70_000})
    assert op_client.post(URL, huge, content_type="application/json").status_code == 400


def test_hotkeys_round_trip(op_client, make_reply):
    reply = make_reply("hello")
    response = post(op_client, URL + "hotkeys", {"slot": 1, "reply": reply.pk, "sends": False})
    assert response.status_code == 200
    assert response.json()["hotkeys"] == [{"slot": 1, "sends": False, "reply": response.json()["hotkeys"][0]["reply"]}]
    assert op_client.get(URL + "hotkeys").json()["hotkeys"][0]["reply"]["shortcut"] == "hello"
    assert post(op_client, URL + "hotkeys", {"slot": "1", "reply": reply.pk}).status_code == 400
    assert post(op_client, URL + "hotkeys", {"slot": 1, "reply": None}).json()["hotkeys"] == []


def test_browse_pages_alphabetically(op_client, make_reply):
    for title in ["Charlie", "alpha", "Bravo"]:
        make_reply(title.lower(), title)
    first = op_client.get(URL + "browse", {"limit": 2}).json()
    assert [r["title"] for r in first["replies"]] == ["alpha", "Bravo"]
    rest = op_client.get(URL + "browse", {"offset": first["next_offset"]}).json()
    assert [r["title"] for r in rest["replies"]] == ["Charlie"] and rest["next_offset"] is None


def test_the_api_needs_a_logged_in_member(client):
    assert client.get(URL).status_code == 401
    assert reverse("canned:replies") == URL


@pytest.mark.parametrize("lang", ["\x00", "zz", "en\x00", "x" * 500, "EN", " en", "ru-RU"])
@pytest.mark.parametrize("path", ["", "browse"])
def test_a_language_parley_does_not_speak_is_a_400_naming_lang(op_client, make_reply, path, lang):
    make_reply("delivery", "Delivery times")
    response = op_client.get(URL + path, {"q": "del", "lang": lang})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "bad_request"
    assert response.json()["error"]["field"] in ("lang", None)  # None: a NUL is refused before any view


@pytest.mark.parametrize("path", ["", "browse"])
def test_the_language_filter_keeps_replies_in_that_language(op_client, make_reply, path):
    make_reply("hello", "Hello", language="en")
    make_reply("hola", "Привет", language="ru")
    for lang, expected in (("ru", ["hola"]), ("", ["hello", "hola"])):
        response = op_client.get(URL + path, {"lang": lang})
        assert response.status_code == 200
        assert sorted(r["shortcut"] for r in response.json()["replies"]) == expected
