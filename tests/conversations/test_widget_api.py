import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django_scopes import scopes_disabled
from PIL import Image

from apps.conversations import services
from apps.conversations.models import Attachment, Conversation, Message, PageView, Visitor
from apps.conversations.tokens import visitor_token_issue, visitor_token_read
from tests import factories

pytestmark = pytest.mark.django_db

SHOP = "https://shop.test"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PARLEY_BASE_URL = "https://parley.test"
    return tmp_path


@pytest.fixture
def shop(tenant):
    with scopes_disabled():
        tenant.allowed_domains = "shop.test"
        tenant.save()
    return tenant


@pytest.fixture
def token(shop, visitor):
    return visitor_token_issue(tenant=shop, visitor=visitor)


def auth(token, origin=SHOP):
    headers = {"Authorization": f"Bearer {token}"}
    if origin:
        headers["Origin"] = origin
    return headers


def post_json(client, url, data, **headers):
    return client.post(url, data=json.dumps(data), content_type="application/json", headers=headers)


def png_bytes(size=(4, 3)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "blue").save(buffer, "PNG")
    return buffer.getvalue()


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body


# --- session --------------------------------------------------------------------------------


def test_session_issues_a_token_for_the_key_and_an_allowed_origin(client, shop):
    response = post_json(
        client,
        "/widget/api/session",
        {"key": shop.widget_key, "anonymous_id": "anon-abcdefgh", "url": f"{SHOP}/cart", "title": "Cart"},
        Origin=SHOP,
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in response["Vary"]
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    with scopes_disabled():
        visitor = Visitor.objects.get(tenant=shop, anonymous_id="anon-abcdefgh")
    assert visitor_token_read(body["token"]) == (shop.pk, visitor.pk)
    assert body["visitor"] == {
        "id": visitor.pk,
        "anonymous_id": "anon-abcdefgh",
        "name": "",
        "email": "",
        "returning": False,
        "verified": False,
    }
    assert body["conversation"] is None
    assert body["tenant"] == {"name": "Acme", "language": "en"}
    assert visitor.current_url == f"{SHOP}/cart"


def test_session_returns_the_same_visitor_and_their_open_conversation(client, shop, visitor):
    conversation = services.conversation_start(tenant=shop, visitor=visitor)
    services.message_send(tenant=shop, conversation=conversation, author_type="visitor", body="hi", client_id="c1")
    response = post_json(
        client, "/widget/api/session", {"key": shop.widget_key, "anonymous_id": visitor.anonymous_id}, Origin=SHOP
    )
    body = response.json()
    assert body["visitor"]["id"] == visitor.pk
    assert body["conversation"] == {"id": conversation.pk, "last_seq": 1, "status": "queued"}


def test_session_refuses_an_unknown_or_inactive_key_with_404(client, shop):
    for key in ["pk_nope", "", None, 12, "x" * 100]:
        assert_error(post_json(client, "/widget/api/session", {"key": key}, Origin=SHOP), 404, "not_found")
    with scopes_disabled():
        shop.is_active = False
        shop.save()
    assert_error(post_json(client, "/widget/api/session", {"key": shop.widget_key}, Origin=SHOP), 404, "not_found")
    with scopes_disabled():
        assert Visitor.objects.count() == 0


@pytest.mark.parametrize("origin", ["https://evil.test", "https://shop.test.evil.test", "null", None])
def test_session_refuses_a_disallowed_origin_with_403_and_creates_nothing(client, shop, origin):
    headers = {"Origin": origin} if origin else {}
    response = post_json(client, "/widget/api/session", {"key": shop.widget_key}, **headers)
    assert_error(response, 403, "forbidden")
    assert "Access-Control-Allow-Origin" not in response
    with scopes_disabled():
        assert Visitor.objects.count() == 0


def test_session_from_parleys_own_iframe_origin_is_allowed(client, shop):
    response = post_json(client, "/widget/api/session", {"key": shop.widget_key}, Origin="https://parley.test")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://parley.test"


# The last one is over apps.core.http.JSON_BODY_MAX_BYTES, the one limit of every JSON API.
@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'"x"', b"{" + b" " * 70000 + b"}"])
def test_session_refuses_malformed_bodies(client, shop, body):
    response = client.post("/widget/api/session", data=body, content_type="application/json", headers={"Origin": SHOP})
    assert_error(response, 400, "bad_frame")


def test_session_accepts_a_text_plain_body(client, shop):
    response = client.post(
        "/widget/api/session",
        data=json.dumps({"key": shop.widget_key}),
        content_type="text/plain",
        headers={"Origin": SHOP},
    )
    assert response.status_code == 200


def test_session_other_methods_are_refused(client, shop):
    assert client.get("/widget/api/session", headers={"Origin": SHOP}).status_code == 405


def preflight(client, path, origin, query=""):
    headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    if origin is not None:
        headers["Origin"] = origin
    return client.options(f"/widget/api/{path}{query}", headers=headers)


@pytest.mark.parametrize("path", ["session", "pageview", "messages", "upload", "attachments/abc"])
def test_a_preflight_naming_the_widget_key_is_granted_to_the_tenants_allowed_origin(client, shop, path):
    response = preflight(client, path, SHOP, f"?key={shop.widget_key}")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Authorization" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response
    assert "Origin" in response["Vary"]


@pytest.mark.parametrize(
    "origin, query",
    [
        pytest.param("https://evil.test", "?key={key}", id="foreign-origin"),
        pytest.param("https://shop.test.evil.test", "?key={key}", id="suffix-lookalike"),
        pytest.param("null", "?key={key}", id="null-origin"),
        pytest.param(None, "?key={key}", id="missing-origin"),
        pytest.param(SHOP, "", id="no-key"),
        pytest.param(SHOP, "?key=pk_nope", id="unknown-key"),
        pytest.param(SHOP, "?key=%00", id="nul-key"),
        pytest.param(SHOP, "?key=" + "x" * 5000, id="huge-key"),
        pytest.param(SHOP, "?key={other}", id="another-tenants-key"),
    ],
)
def test_a_preflight_echoes_no_origin_but_the_tenants_allowed_ones(client, shop, other_tenant, origin, query):
    with scopes_disabled():
        other_tenant.allowed_domains = "elsewhere.test"
        other_tenant.save()
    query = query.format(key=shop.widget_key, other=other_tenant.widget_key)
    response = preflight(client, "pageview", origin, query)
    # A NUL in the address is refused before any view (apps/core/querystrings.py).
    assert response.status_code == (400 if "%00" in query else 204)
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Headers" not in response


def test_a_preflight_from_parleys_own_iframe_needs_no_key(client, shop):
    response = preflight(client, "pageview", "https://parley.test")
    assert response["Access-Control-Allow-Origin"] == "https://parley.test"


def test_a_preflight_of_an_inactive_tenant_is_refused(client, shop):
    with scopes_disabled():
        shop.is_active = False
        shop.save()
    assert "Access-Control-Allow-Origin" not in preflight(client, "pageview", SHOP, f"?key={shop.widget_key}")


@pytest.mark.parametrize("origin", ["https://evil.test", "null", None])
def test_the_real_request_is_readable_only_from_an_allowed_origin(client, shop, token, origin):
    allowed = client.post(
        f"/widget/api/pageview?key={shop.widget_key}",
        data=json.dumps({"url": f"{SHOP}/p"}),
        content_type="text/plain",
        headers=auth(token),
    )
    assert allowed.status_code == 200 and allowed["Access-Control-Allow-Origin"] == SHOP
    headers = {"Authorization": f"Bearer {token}"} | ({"Origin": origin} if origin else {})
    refused = client.post(
        f"/widget/api/pageview?key={shop.widget_key}",
        data=json.dumps({"url": f"{SHOP}/p"}),
        content_type="text/plain",
        headers=headers,
    )
    assert "Access-Control-Allow-Origin" not in refused
    if origin is not None:
        assert refused.status_code == 403


# --- pageview -------------------------------------------------------------------------------


def test_pageview_records_the_page(client, token, visitor):
    response = post_json(client, "/widget/api/pageview", {"url": f"{SHOP}/p/2", "title": "Boots"}, **auth(token))
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert response["Access-Control-Allow-Origin"] == SHOP
    with scopes_disabled():
        assert PageView.objects.get().url == f"{SHOP}/p/2"


@pytest.mark.parametrize(
    "bad_token",
    ["", "garbage", "WzEsMV0:1abc:forged", None],
)
def test_pageview_refuses_a_missing_or_forged_token_with_401(client, shop, bad_token):
    headers = {"Origin": SHOP}
    if bad_token is not None:
        headers["Authorization"] = f"Bearer {bad_token}"
    response = post_json(client, "/widget/api/pageview", {"url": f"{SHOP}/"}, **headers)
    assert_error(response, 401, "unauthorized")
    with scopes_disabled():
        assert PageView.objects.count() == 0


def test_a_token_of_an_inactive_tenant_is_refused(client, shop, visitor, token):
    with scopes_disabled():
        shop.is_active = False
        shop.save()
    assert_error(post_json(client, "/widget/api/pageview", {"url": f"{SHOP}/"}, **auth(token)), 401, "unauthorized")


def test_a_token_of_a_deleted_visitor_is_refused(client, shop, visitor, token):
    with scopes_disabled():
        visitor.delete()
    assert_error(post_json(client, "/widget/api/pageview", {"url": f"{SHOP}/"}, **auth(token)), 401, "unauthorized")


def test_pageview_from_a_disallowed_origin_is_refused(client, token):
    response = post_json(client, "/widget/api/pageview", {"url": f"{SHOP}/"}, **auth(token, origin="https://evil.test"))
    assert_error(response, 403, "forbidden")


def test_pageview_refuses_a_bad_url(client, token):
    body = assert_error(
        post_json(client, "/widget/api/pageview", {"url": "javascript:alert(1)"}, **auth(token)), 400, "bad_frame"
    )
    assert body["error"]["field"] == "url"


# --- messages -------------------------------------------------------------------------------


def test_messages_returns_the_public_messages_after_a_seq(client, shop, visitor, operator, token):
    conversation = services.conversation_start(tenant=shop, visitor=visitor)
    for i in range(3):
        services.message_send(
            tenant=shop, conversation=conversation, author_type="visitor", body=f"m{i}", client_id=f"c{i}"
        )
    services.note_add(tenant=shop, conversation=conversation, author=operator, body="secret note", client_id="n")
    services.message_send(
        tenant=shop, conversation=conversation, author_type="operator", author=operator, body="<b>hi</b>", client_id="o"
    )
    response = client.get(f"/widget/api/messages?conversation={conversation.pk}&after=1", headers=auth(token))
    assert response.status_code == 200
    body = response.json()
    assert [m["seq"] for m in body["messages"]] == [2, 3, 5]
    assert body["messages"][-1]["body"] == "<b>hi</b>"
    assert "secret note" not in response.content.decode()
    assert "operator@acme.test" not in response.content.decode()
    assert body["conversation"]["id"] == conversation.pk and body["has_more"] is False


def test_messages_of_another_visitor_or_tenant_are_not_found_alike(client, shop, token, other_tenant, other_visitor):
    with scopes_disabled():
        stranger = factories.VisitorFactory(tenant=shop)
    strangers = services.conversation_start(tenant=shop, visitor=stranger)
    services.message_send(tenant=shop, conversation=strangers, author_type="visitor", body="private", client_id="c")
    foreign = services.conversation_start(tenant=other_tenant, visitor=other_visitor)
    answers = []
    for conversation_id in [strangers.pk, foreign.pk, 987654, "x", ""]:
        response = client.get(f"/widget/api/messages?conversation={conversation_id}&after=0", headers=auth(token))
        answers.append((response.status_code, response.content))
    assert {status for status, _ in answers} == {404}
    assert len({content for _, content in answers}) == 1
    assert b"private" not in b"".join(content for _, content in answers)


def test_cors_headers_name_only_an_allowed_origin_even_on_errors(client, shop, visitor, token):
    unknown = post_json(client, "/widget/api/session", {"key": "pk_nope"}, Origin=SHOP)
    assert unknown.status_code == 404 and "Access-Control-Allow-Origin" not in unknown
    own = post_json(client, "/widget/api/session", {"key": "pk_nope"}, Origin="https://parley.test")
    assert own["Access-Control-Allow-Origin"] == "https://parley.test"
    missing = client.get("/widget/api/messages?conversation=0", headers=auth(token))
    assert missing.status_code == 404 and missing["Access-Control-Allow-Origin"] == SHOP
    foreign = client.get("/widget/api/messages?conversation=0", headers=auth(token, origin="https://evil.test"))
    assert foreign.status_code == 403 and "Access-Control-Allow-Origin" not in foreign
    forged = client.get("/widget/api/messages?conversation=0", headers=auth("forged", origin=SHOP))
    assert forged.status_code == 401 and "Access-Control-Allow-Origin" not in forged


def test_messages_refuses_a_bad_after(client, shop, visitor, token):
    conversation = services.conversation_start(tenant=shop, visitor=visitor)
    for after in ["-1", "abc", "1e5", "99999999999"]:
        response = client.get(f"/widget/api/messages?conversation={conversation.pk}&after={after}", headers=auth(token))
        assert_error(response, 400, "bad_frame")


# --- uploads and downloads ------------------------------------------------------------------


def visitor_upload(client, token, data, name, conversation=None, content_type="application/octet-stream"):
    payload = {"file": SimpleUploadedFile(name, data, content_type=content_type)}
    if conversation is not None:
        payload["conversation"] = str(conversation.pk)
    return client.post("/widget/api/upload", data=payload, headers=auth(token))


def test_a_visitor_uploads_an_image_and_sends_it(client, shop, visitor, token):
    conversation = services.conversation_start(tenant=shop, visitor=visitor)
    response = visitor_upload(client, token, png_bytes(), "cat.png", conversation)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["filename"] == "cat.png" and body["content_type"] == "image/png" and body["size"] > 0
    assert body["url"] == f"/widget/api/attachments/{body['token']}"
    message, _ = services.message_send(
        tenant=shop,
        conversation=conversation,
        author_type="visitor",
        body="",
        client_id="img",
        attachment_tokens=[body["token"]],
    )
    assert message.kind == "attachment"


def test_an_upload_without_a_conversation_goes_to_the_open_one_or_a_new_one(client, shop, visitor, token):
    response = visitor_upload(client, token, png_bytes(), "a.png")
    assert response.status_code == 201
    with scopes_disabled():
        conversation = Conversation.objects.get(visitor=visitor)
    assert response.json()["conversation"] == conversation.pk
    again = visitor_upload(client, token, png_bytes(), "b.png")
    assert again.json()["conversation"] == conversation.pk


def test_a_refused_first_upload_leaves_no_empty_chat_behind(client, shop, visitor, token, layer):
    response = visitor_upload(client, token, b"MZ\x90binary", "setup.exe")
    assert_error(response, 415, "unsupported_type")
    with scopes_disabled():
        assert Conversation.objects.count() == 0
    assert layer.sent == []


def test_a_large_text_file_spooled_to_disk_is_sniffed_and_stored(client, shop, visitor, token, media):
    conversation = services.conversation_start(tenant=shop, visitor=visitor)
    data = ("zażółć,gęślą,jaźń\n" * 200_000).encode()  # > FILE_UPLOAD_MAX_MEMORY_SIZE: a temporary file
    response = visitor_upload(client, token, data, "big.csv", conversation)
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == "text/csv; charset=utf-8"
    with scopes_disabled():
        stored = Attachment.objects.get()
    assert (media / stored.file.name).read_bytes() == data


def test_an_oversized_upload_gets_413(client, shop, visitor, token, settings):
    settings.PARLEY_ATTACHMENT_MAX_BYTES = 2000
    conversation = services.conversation_start(tenant=shop, visitor=visitor)
    assert_error(visitor_upload(client, token, b"%PDF-" + b"x" * 5000, "a.pdf", conversation), 413, "too_large")
    assert_error(visitor_upload(client, token, b"%PDF-" + b"x" * 100_000, "b.pdf", conversation), 413, "too_large")
    with scopes_disabled():
        assert Attachment.objects.count() == 0


def test_an_upload_of_a_refused_type_gets_415(client, shop, visitor, token):
    conversation = services.conversation_start(tenant=shop, visitor=visitor)
    response = visitor_upload(client, token, b"<svg onload=alert(1)>", "x.svg", conversation, "image/svg+xml")
    assert_error(response, 415, "unsupported_type")
    response = visitor_upload(client, token, b"<html>", "x.png", conversation, "image/png")
    assert_error(response, 415, "unsupported_type")


def test_an_upload_into_another_visitors_or_tenants_conversation_is_not_found(
    client, shop, token, other_tenant, other_visitor
):
    with scopes_disabled():
        stranger = factories.VisitorFactory(tenant=shop)
    for conversation in [
        services.conversation_start(tenant=shop, visitor=stranger),
        services.conversation_start(tenant=other_tenant, visitor=other_visitor),
    ]:
        assert_error(visitor_upload(client, token, png_bytes(), "a.png", conversation), 404, "not_found")
    with scopes_disabled():
        assert Attachment.objects.count() == 0


def test_an_upload_without_a_file_or_token_is_refused(client, shop, visitor, token):
    assert_error(client.post("/widget/api/upload", data={}, headers=auth(token)), 400, "bad_frame")
    response = client.post("/widget/api/upload", data={"file": SimpleUploadedFile("a.png", png_bytes())})
    assert_error(response, 401, "unauthorized")


def test_a_visitor_downloads_their_image_inline_and_a_document_as_attachment(client, shop, visitor, token):
    conversation = services.conversation_start(tenant=shop, visitor=visitor)
    image = visitor_upload(client, token, png_bytes(), "cat.png", conversation).json()
    pdf = visitor_upload(client, token, b"%PDF-1.4 hello", "bill.pdf", conversation).json()
    response = client.get(image["url"], headers=auth(token, origin=None))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == png_bytes()
    assert response["Cache-Control"].startswith("private")
    response = client.get(f"{pdf['url']}?token={token}")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert "bill.pdf" in response["Content-Disposition"]
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_visitor_cannot_download_another_visitors_file_or_a_note_attachment(client, shop, visitor, token, operator):
    with scopes_disabled():
        stranger = factories.VisitorFactory(tenant=shop)
    strangers = services.conversation_start(tenant=shop, visitor=stranger)
    strangers_token = visitor_token_issue(tenant=shop, visitor=stranger)
    theirs = visitor_upload(client, strangers_token, png_bytes(), "theirs.png", strangers).json()
    assert_error(client.get(theirs["url"], headers=auth(token)), 404, "not_found")

    mine = services.conversation_start(tenant=shop, visitor=visitor)
    unsent = services.attachment_upload(
        tenant=shop,
        conversation=mine,
        file=SimpleUploadedFile("draft.png", png_bytes()),
        uploader_side="operator",
    )
    assert_error(client.get(f"/widget/api/attachments/{unsent.token}", headers=auth(token)), 404, "not_found")
    services.message_send(
        tenant=shop,
        conversation=mine,
        author_type="operator",
        author=operator,
        body="internal",
        client_id="n",
        kind="note",
        attachment_tokens=[unsent.token],
    )
    assert_error(client.get(f"/widget/api/attachments/{unsent.token}", headers=auth(token)), 404, "not_found")


def test_an_operator_downloads_files_of_their_tenant_only(client, shop, visitor, token, operator, other_operator):
    conversation = services.conversation_start(tenant=shop, visitor=visitor)
    image = visitor_upload(client, token, png_bytes(), "cat.png", conversation).json()
    assert_error(Client().get(image["url"]), 401, "unauthorized")
    staff = Client()
    staff.force_login(operator.user)
    assert staff.get(image["url"]).status_code == 200
    outsider = Client()
    outsider.force_login(other_operator.user)
    assert_error(outsider.get(image["url"]), 404, "not_found")


def test_operator_upload_needs_a_session_a_csrf_token_and_a_conversation_of_the_tenant(
    shop, visitor, operator, other_tenant, other_visitor
):
    conversation = services.conversation_start(tenant=shop, visitor=visitor)
    foreign = services.conversation_start(tenant=other_tenant, visitor=other_visitor)

    def upload(client, conversation_id, **extra):
        data = {"file": SimpleUploadedFile("a.pdf", b"%PDF-1.7 x"), "conversation": str(conversation_id)}
        return client.post("/app/api/upload", data=data, **extra)

    assert_error(upload(Client(), conversation.pk), 403, "forbidden")
    staff = Client(enforce_csrf_checks=True)
    staff.force_login(operator.user)
    assert upload(staff, conversation.pk).status_code == 403  # no CSRF token
    csrf = _get_new_csrf_string()
    staff.cookies["csrftoken"] = csrf
    response = upload(staff, conversation.pk, headers={"X-CSRFToken": csrf})
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == "application/pdf"
    with scopes_disabled():
        assert Attachment.objects.get(token=response.json()["token"]).uploader_side == "operator"
    assert_error(upload(staff, foreign.pk, headers={"X-CSRFToken": csrf}), 404, "not_found")


# --- sending over HTTP: the same way in as the socket's `send` -------------------------------------


def test_a_message_sent_over_http_is_acked_and_a_resend_is_the_same_message(client, shop, visitor, token):
    frame = {"client_id": "http-1", "body": "Hello from a browser without websockets"}
    first = post_json(client, "/widget/api/messages", frame, **auth(token))
    assert first.status_code == 201
    ack = first.json()
    assert (ack["type"], ack["client_id"], ack["seq"]) == ("ack", "http-1", 1)
    assert first["Access-Control-Allow-Origin"] == SHOP
    again = post_json(client, "/widget/api/messages", frame, **auth(token))
    assert again.status_code == 200 and again.json()["seq"] == 1
    with scopes_disabled():
        conversation = Conversation.objects.get(visitor=visitor)
        assert conversation.status == "queued"
        assert list(Message.objects.filter(conversation=conversation).values_list("body", flat=True)) == [frame["body"]]


def test_a_bad_message_over_http_is_refused_and_starts_nothing(client, shop, visitor, token):
    for frame in ({"client_id": "x", "body": ""}, {"client_id": "bad id", "body": "hi"}, {"body": "no id"}):
        response = post_json(client, "/widget/api/messages", frame, **auth(token))
        assert_error(response, 400, "bad_frame")
    refused = post_json(client, "/widget/api/messages", {"client_id": "y", "body": "hi"}, **auth(token, origin=None))
    assert_error(refused, 403, "forbidden")
    with scopes_disabled():
        assert not Conversation.objects.filter(visitor=visitor).exists()


def test_a_message_over_http_into_another_visitors_conversation_is_not_found(client, shop, token, other_visitor):
    with scopes_disabled():
        theirs = factories.ConversationFactory(tenant=other_visitor.tenant, visitor=other_visitor)
    response = post_json(
        client, "/widget/api/messages", {"client_id": "z", "body": "hi", "conversation": theirs.pk}, **auth(token)
    )
    assert_error(response, 404, "not_found")
