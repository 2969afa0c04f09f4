"""/ws/widget/: a visitor's socket (docs/protocol.md)."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from channels.db import database_sync_to_async
from django.core import signing
from django_scopes import scopes_disabled

from apps.conversations import services
from apps.conversations.models import Conversation, Message, Visitor
from apps.conversations.sockets.base import FRAME_MAX_BYTES
from apps.conversations.sockets.visitor import DRAFT_PREVIEWS_PER_SECOND, VisitorConsumer
from apps.conversations.tokens import visitor_token_issue
from tests import factories
from tests.realtime.conftest import stored_messages

pytestmark = pytest.mark.usefixtures("live_db")


# --- handshake ---------------------------------------------------------------------------------------


async def test_connect_without_a_token_is_closed_4401(sockets):
    socket, first = await sockets("/ws/widget/")
    assert first == {"type": "__closed__", "code": 4401}


async def test_connect_with_a_forged_token_is_closed_4401(sockets, tenant, visitor):
    forged = signing.dumps([tenant.pk, visitor.pk], salt="not.the.visitor.salt")
    socket, first = await sockets(f"/ws/widget/?token={forged}")
    assert first == {"type": "__closed__", "code": 4401}


def _token_of_a_deleted_visitor(tenant) -> str:
    with scopes_disabled():
        gone = factories.VisitorFactory(tenant=tenant)
        token = visitor_token_issue(tenant=tenant, visitor=gone)
        gone.delete()
    return token


async def test_connect_with_a_token_of_a_deleted_visitor_is_closed_4401(sockets, tenant):
    token = await database_sync_to_async(_token_of_a_deleted_visitor)(tenant)
    socket, first = await sockets(f"/ws/widget/?token={token}")
    assert first == {"type": "__closed__", "code": 4401}


async def test_connect_from_an_origin_the_tenant_does_not_allow_is_closed_4403(sockets, tenant, visitor_token):
    tenant.allowed_domains = "shop.example"
    await database_sync_to_async(tenant.save)()
    socket, first = await sockets(f"/ws/widget/?token={visitor_token}", origin="https://evil.example")
    assert first == {"type": "__closed__", "code": 4403}
    socket, first = await sockets(f"/ws/widget/?token={visitor_token}", origin=None)
    assert first == {"type": "__closed__", "code": 4403}
    socket, first = await sockets(f"/ws/widget/?token={visitor_token}", origin="https://shop.example")
    assert first["type"] == "hello"


async def test_hello_names_the_open_conversation(sockets, visitor_token, conversation):
    socket, hello = await sockets(f"/ws/widget/?token={visitor_token}")
    assert hello == {
        "type": "hello",
        "visitor": conversation.visitor_id,
        "conversation": conversation.pk,
        "last_seq": 0,
    }


# --- sending -----------------------------------------------------------------------------------------


async def test_first_send_starts_a_conversation_and_is_acked_with_its_seq(visitor_socket, visitor):
    await visitor_socket.send({"type": "send", "client_id": "c-1", "body": "Hello?"})
    ack = await visitor_socket.recv_type("ack")
    assert ack["client_id"] == "c-1"
    assert ack["seq"] == 1
    assert ack["message"]["body"] == "Hello?"
    assert ack["message"]["author_type"] == "visitor"
    assert await stored_messages(ack["conversation"]) == [(1, "text", "visitor", "Hello?")]

    await visitor_socket.send({"type": "send", "client_id": "c-2", "body": "Anyone?"})
    second = await visitor_socket.recv_type("ack")
    assert (second["conversation"], second["seq"]) == (ack["conversation"], 2)


async def test_a_resend_with_the_same_client_id_stores_one_message_and_acks_the_same_seq(visitor_socket):
    frame = {"type": "send", "client_id": "dup-1", "body": "Only once"}
    await visitor_socket.send(frame)
    first = await visitor_socket.recv_type("ack")
    await visitor_socket.send(frame)
    again = await visitor_socket.recv_type("ack")
    await visitor_socket.send({**frame, "conversation": first["conversation"]})
    third = await visitor_socket.recv_type("ack")
    assert first["seq"] == again["seq"] == third["seq"] == 1
    assert first["message"]["id"] == again["message"]["id"] == third["message"]["id"]
    assert await stored_messages(first["conversation"]) == [(1, "text", "visitor", "Only once")]


async def test_a_resend_after_reconnecting_is_acked_not_stored_again(sockets, visitor_token):
    socket, _ = await sockets(f"/ws/widget/?token={visitor_token}")
    await socket.send({"type": "send", "client_id": "outbox-1", "body": "Did this arrive?"})
    ack = await socket.recv_type("ack")
    await socket.close()
    socket, hello = await sockets(f"/ws/widget/?token={visitor_token}")
    assert (hello["conversation"], hello["last_seq"]) == (ack["conversation"], 1)
    await socket.send({"type": "send", "client_id": "outbox-1", "body": "Did this arrive?"})
    again = await socket.recv_type("ack")
    assert again["seq"] == 1
    assert len(await stored_messages(ack["conversation"])) == 1


async def test_hostile_text_is_stored_as_text_and_delivered_verbatim(visitor_socket, operator_socket):
    body = '<script>alert("x")</script> </textarea><img src=x onerror=alert(1)> {"type":"ack"} \\" \u2028 ё 👋 &amp;'
    await visitor_socket.send({"type": "send", "client_id": "evil-1", "body": body})
    ack = await visitor_socket.recv_type("ack")
    assert ack["message"]["body"] == body
    # The lists' preview (shorter than the preview limit, so whole), then the chat opened.
    listed = await operator_socket.recv_type("list")
    assert listed["conversations"][0]["last_message"]["body"] == body
    await operator_socket.watch(ack["conversation"])
    await operator_socket.send({"type": "resume", "conversations": {str(ack["conversation"]): 0}})
    seen = await operator_socket.recv_type("message")
    assert seen["message"]["body"] == body
    assert (await stored_messages(ack["conversation"]))[0][3] == body


# --- bad frames ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("x" * (FRAME_MAX_BYTES + 1), "too_large"),
        (json.dumps({"type": "send", "client_id": "big", "body": "é" * (FRAME_MAX_BYTES // 2)}), "too_large"),
        ('{"type": "send", "client_id": "a", "body": "unterminated', "bad_json"),
        ("[1, 2, 3]", "bad_frame"),
        ('{"client_id": "a", "body": "no type"}', "bad_frame"),
        ('{"type": "send", "body": "no client id"}', "bad_frame"),
        ('{"type": "send", "client_id": "a", "body": ""}', "bad_frame"),
        ('{"type": "send", "client_id": "a", "body": 42}', "bad_frame"),
        ('{"type": "send", "client_id": "a", "body": "x", "conversation": "1; drop"}', "bad_frame"),
        ('{"type": "send", "client_id": "has spaces", "body": "x"}', "bad_frame"),
        ('{"type": "launch_missiles"}', "unknown_type"),
        ('{"type": "send", "client_id": "a", "body": "x", "conversation": 99999999999999999999999}', "bad_frame"),
        ('{"type": "resume", "conversations": {"1": 99999999999999999999999}}', "bad_frame"),
        ('{"type": "resume", "conversations": {"0": 1}}', "bad_frame"),
        ('{"type": "resume", "conversations": [1, 2]}', "bad_frame"),
        ('{"type": "read", "conversation": 1, "seq": -1}', "bad_frame"),
        ('{"type": "typing", "conversation": 1, "on": "yes"}', "bad_frame"),
    ],
)
async def test_bad_frames_get_an_error_store_nothing_and_leave_the_socket_working(visitor_socket, visitor, raw, code):
    await visitor_socket.send(raw)
    error = await visitor_socket.recv()
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    assert await database_sync_to_async(_unscoped(Message.objects.count))() == 0
    await visitor_socket.send({"type": "ping"})
    assert await visitor_socket.recv() == {"type": "pong"}
    await visitor_socket.send({"type": "send", "client_id": "after-error", "body": "still here"})
    assert (await visitor_socket.recv_type("ack"))["seq"] == 1


async def test_binary_frames_are_refused(visitor_socket):
    await visitor_socket.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await visitor_socket.recv())["code"] == "bad_frame"


# --- budget ------------------------------------------------------------------------------------------


async def test_frames_over_the_budget_are_refused_with_rate_limited_and_typing_is_dropped_silently(
    visitor_socket, conversation
):
    for _ in range(30):
        await visitor_socket.send({"type": "ping"})
    frames = [await visitor_socket.recv() for _ in range(30)]  # one answer per frame
    assert [f["type"] for f in frames].count("pong") in range(20, 23)
    assert {f.get("code") for f in frames if f["type"] == "error"} == {"rate_limited"}
    for _ in range(10):
        await visitor_socket.send({"type": "typing", "conversation": conversation.pk, "on": True, "draft": "x"})
    assert await visitor_socket.drain() == []


# --- isolation ---------------------------------------------------------------------------------------

# A frame for every visitor action that names a conversation; {cid} is replaced by the target id.
VISITOR_SAMPLE_FRAMES = {
    "send": {"type": "send", "conversation": "{cid}", "client_id": "iso-1", "body": "let me in"},
    "resume": {"type": "resume", "conversations": {"{cid}": 0}},
    "typing": {"type": "typing", "conversation": "{cid}", "on": True, "draft": "peek"},
    "read": {"type": "read", "conversation": "{cid}", "seq": 1},
    "rate": {"type": "rate", "conversation": "{cid}", "rating": "bad"},
}
VISITOR_ACTIONS_WITHOUT_CONVERSATION = {"ping"}


def _with_conversation(template, conversation_id: int):
    """The sample frame aimed at `conversation_id`: "{cid}" values become the id, "{cid}" keys its string."""
    if template == "{cid}":
        return conversation_id
    if isinstance(template, dict):
        return {
            (str(conversation_id) if key == "{cid}" else key): _with_conversation(value, conversation_id)
            for key, value in template.items()
        }
    return template


def test_every_visitor_action_has_an_isolation_sample():
    assert set(VisitorConsumer.handlers) - VISITOR_ACTIONS_WITHOUT_CONVERSATION == set(VISITOR_SAMPLE_FRAMES)


@pytest.mark.parametrize("action", sorted(VISITOR_SAMPLE_FRAMES))
@pytest.mark.parametrize("whose", ["same_tenant", "other_tenant", "missing"])
async def test_a_visitor_cannot_touch_another_visitors_conversation(
    sockets, tenant, visitor_token, other_conversation, operator_socket, action, whose
):
    if whose == "same_tenant":
        target = await database_sync_to_async(_unscoped(factories.ConversationFactory))(tenant=tenant)
    elif whose == "other_tenant":
        target = other_conversation
    else:
        target = None
    target_id = target.pk if target is not None else 999_999
    if target is not None:
        await database_sync_to_async(_seed_message)(target)
    socket, _ = await sockets(f"/ws/widget/?token={visitor_token}")
    await socket.send(_with_conversation(VISITOR_SAMPLE_FRAMES[action], target_id))
    frames = await socket.until("error")
    frames += await socket.drain(0.1)
    errors = [f for f in frames if f["type"] == "error"]
    assert [e["code"] for e in errors] == ["not_found"], frames
    assert not [f for f in frames if f["type"] in ("message", "ack")]
    if target is not None:
        assert await stored_messages(target.pk) == [(1, "text", "visitor", "private")]
        fresh = await database_sync_to_async(_unscoped(Conversation.objects.get))(pk=target.pk)
        assert (fresh.rating, fresh.visitor_read_seq) == ("", 0)
    # The other visitor's operators hear no typing from this socket.
    assert not [f for f in await operator_socket.drain(0.1) if f["type"] == "typing"]


def _unscoped(fn):
    def call(*args, **kwargs):
        with scopes_disabled():
            return fn(*args, **kwargs)

    return call


def _seed_message(conversation: Conversation) -> None:
    with scopes_disabled():
        tenant = conversation.tenant
        visitor = conversation.visitor
    services.message_send(
        tenant=tenant, conversation=conversation, author_type="visitor", body="private", client_id="seed-1"
    )
    assert visitor is not None


# --- resume ------------------------------------------------------------------------------------------


def _operator_says(conversation_id: int, membership, bodies: list[str]) -> None:
    with scopes_disabled():
        conversation = Conversation.objects.get(pk=conversation_id)
        tenant = conversation.tenant
    for index, body in enumerate(bodies):
        services.message_send(
            tenant=tenant,
            conversation=conversation,
            author_type="operator",
            author=membership,
            body=body,
            client_id=f"op-{index}-{uuid.uuid4().hex[:8]}",
        )


async def test_resume_after_a_drop_replays_exactly_the_missed_messages_in_order(sockets, visitor_token, operator):
    socket, _ = await sockets(f"/ws/widget/?token={visitor_token}")
    await socket.send({"type": "send", "client_id": "v-1", "body": "Hi"})
    ack = await socket.recv_type("ack")
    conversation_id = ack["conversation"]
    await socket.send({"type": "send", "client_id": "v-2", "body": "Still there?"})
    assert (await socket.recv_type("ack"))["seq"] == 2
    await socket.close()

    missed = ["one", "two", "three"]
    await database_sync_to_async(_operator_says)(conversation_id, operator, missed)

    socket, hello = await sockets(f"/ws/widget/?token={visitor_token}")
    assert hello["last_seq"] == 5
    await socket.send({"type": "resume", "conversations": {str(conversation_id): 2}})
    frames = []
    while True:
        frame = await socket.recv()
        frames.append(frame)
        if frame["type"] == "resumed":
            break
    replayed = [f["message"] for f in frames if f["type"] == "message"]
    assert [(m["seq"], m["body"]) for m in replayed] == [(3, "one"), (4, "two"), (5, "three")]
    assert frames[-1] == {"type": "resumed", "conversations": {str(conversation_id): 5}}
    assert await socket.drain() == []

    # Resuming from the newest seq replays nothing; from 0, everything once.
    await socket.send({"type": "resume", "conversations": {str(conversation_id): 5}})
    assert await socket.recv() == {"type": "resumed", "conversations": {str(conversation_id): 5}}
    await socket.send({"type": "resume", "conversations": {str(conversation_id): 0}})
    everything = [f for f in await socket.until("resumed") if f["type"] == "message"]
    assert [m["message"]["seq"] for m in everything] == [1, 2, 3, 4, 5]


async def test_resume_of_a_conversation_joins_its_live_broadcasts(sockets, visitor_token, conversation, operator):
    await database_sync_to_async(_operator_says)(conversation.pk, operator, ["before"])
    await database_sync_to_async(services.conversation_close)(
        tenant=await database_sync_to_async(lambda: conversation.tenant)(), conversation=conversation
    )
    socket, hello = await sockets(f"/ws/widget/?token={visitor_token}")
    assert hello["conversation"] is None  # closed: not the open conversation any more
    await socket.send({"type": "resume", "conversations": {str(conversation.pk): 0}})
    frames = await socket.until("resumed")
    assert [f["message"]["body"] for f in frames if f["type"] == "message"][0] == "before"
    await database_sync_to_async(_operator_says)(conversation.pk, operator, [])
    tenant = await database_sync_to_async(lambda: conversation.tenant)()
    await database_sync_to_async(services.conversation_reopen)(tenant=tenant, conversation=conversation)
    live = await socket.until("conversation")
    # Its operator is offline, so routing queues it again: the visitor may also hear its queue place.
    assert {f["type"] for f in live} - {"queue"} == {"message", "conversation"}


async def test_a_visitor_sends_into_a_new_conversation_after_the_old_one_closed(visitor_socket, tenant, operator):
    await visitor_socket.send({"type": "send", "client_id": "first", "body": "Hi"})
    first = await visitor_socket.recv_type("ack")
    conversation = await database_sync_to_async(_unscoped(Conversation.objects.get))(pk=first["conversation"])
    await database_sync_to_async(services.conversation_close)(tenant=tenant, conversation=conversation)
    await visitor_socket.send(
        {"type": "send", "client_id": "late", "body": "One more", "conversation": conversation.pk}
    )
    assert (await visitor_socket.recv_type("error"))["code"] == "closed"
    await visitor_socket.send({"type": "send", "client_id": "late", "body": "One more"})
    second = await visitor_socket.recv_type("ack")
    assert second["conversation"] != conversation.pk
    assert second["seq"] == 1


# --- privacy of notes and drafts -----------------------------------------------------------------------


async def test_notes_never_reach_the_visitor_live_or_on_resume(
    sockets, visitor_socket, operator_socket, operator_cookie
):
    await visitor_socket.send({"type": "send", "client_id": "v-1", "body": "Hello"})
    conversation_id = (await visitor_socket.recv_type("ack"))["conversation"]
    await operator_socket.send(
        {"type": "send", "conversation": conversation_id, "kind": "note", "client_id": "n-1", "body": "VIP, be nice"}
    )
    note_ack = await operator_socket.recv_type("ack")
    assert note_ack["message"]["kind"] == "note"
    await operator_socket.send(
        {"type": "send", "conversation": conversation_id, "client_id": "o-1", "body": "How can I help?"}
    )
    await operator_socket.recv_type("ack")

    seen = await visitor_socket.until("message")
    seen += await visitor_socket.drain()
    bodies = [f["message"]["body"] for f in seen if f["type"] == "message"]
    assert bodies == ["How can I help?"]
    assert "VIP" not in json.dumps(seen)

    await visitor_socket.send({"type": "resume", "conversations": {str(conversation_id): 0}})
    replay = await visitor_socket.until("resumed")
    assert [f["message"]["body"] for f in replay if f["type"] == "message"] == ["Hello", "How can I help?"]
    assert "VIP" not in json.dumps(replay)

    # A fresh operator socket, so no live frame mixes with the replay.
    auditor, _ = await sockets("/ws/app/", cookie=operator_cookie)
    await auditor.send({"type": "resume", "conversations": {str(conversation_id): 0}})
    operator_replay = await auditor.until("resumed")
    assert [f["message"]["body"] for f in operator_replay if f["type"] == "message"] == [
        "Hello",
        "VIP, be nice",
        "How can I help?",
    ]


async def test_a_typing_preview_reaches_operators_only_and_is_never_stored(
    sockets, visitor_socket, operator_socket, conversation, tenant
):
    other_visitor_token = await database_sync_to_async(_second_visitor_token)(conversation)
    other_socket, _ = await sockets(f"/ws/widget/?token={other_visitor_token}")
    await operator_socket.watch(conversation.pk)
    await visitor_socket.send(
        {"type": "typing", "conversation": conversation.pk, "on": True, "draft": "my card is 4242"}
    )
    typing = await operator_socket.recv_type("typing")
    assert typing == {
        "type": "typing",
        "conversation": conversation.pk,
        "side": "visitor",
        "on": True,
        "name": "",
        "draft": "my card is 4242",
    }
    assert await visitor_socket.drain() == []
    assert await other_socket.drain() == []
    assert await stored_messages(conversation.pk) == []

    # An operator's typing reaches the visitor, with a name and without any draft.
    await operator_socket.send({"type": "typing", "conversation": conversation.pk, "on": True, "draft": "ignored"})
    seen = await visitor_socket.recv_type("typing")
    assert seen["side"] == "operator" and seen["on"] is True
    assert "draft" not in seen
    assert seen["name"]
    assert await other_socket.drain() == []


async def test_typing_previews_are_throttled_and_the_latest_draft_always_arrives(
    visitor_socket, operator_socket, conversation
):
    drafts = [f"draft {n}" for n in range(12)]
    await operator_socket.watch(conversation.pk)
    started = time.monotonic()
    for draft in drafts:
        await visitor_socket.send({"type": "typing", "conversation": conversation.pk, "on": True, "draft": draft})
    frames = await operator_socket.until("typing")
    while frames[-1].get("draft") != "draft 11":  # the newest draft always arrives, if late
        frames += await operator_socket.until("typing")
    elapsed = time.monotonic() - started
    frames += await operator_socket.drain(0.4)
    forwarded = [f for f in frames if f["type"] == "typing"]
    # At most 4 per second, plus the trailing one with the newest draft.
    assert 1 <= len(forwarded) <= 2 + int(elapsed * DRAFT_PREVIEWS_PER_SECOND)
    assert len(forwarded) < len(drafts)
    assert forwarded[0]["draft"] == "draft 0"
    assert forwarded[-1]["draft"] == "draft 11"
    await visitor_socket.send({"type": "typing", "conversation": conversation.pk, "on": False})
    stopped = await operator_socket.recv_type("typing")
    assert stopped["on"] is False and stopped.get("draft", "") == ""


def _second_visitor_token(conversation: Conversation) -> str:
    with scopes_disabled():
        tenant = conversation.tenant
        stranger = factories.VisitorFactory(tenant=tenant)
        factories.ConversationFactory(tenant=tenant, visitor=stranger)
    return visitor_token_issue(tenant=tenant, visitor=stranger)


def _contact_form(visitor_id: int) -> int:
    from apps.widget.services import contact_message_submit

    with scopes_disabled():
        visitor = Visitor.objects.select_related("tenant").get(pk=visitor_id)
    conversation = contact_message_submit(
        tenant=visitor.tenant,
        visitor=visitor,
        anonymous_id=visitor.anonymous_id,
        name="Ann",
        email="ann@example.com",
        body="Please call me back",
    )
    return conversation.pk


async def test_the_contact_forms_conversation_reaches_the_visitors_open_tabs(sockets, visitor_token, visitor, operator):
    tabs = [(await sockets(f"/ws/widget/?token={visitor_token}"))[0] for _ in range(2)]
    conversation_id = await database_sync_to_async(_contact_form)(visitor.pk)
    # The follow event travels through the channel layer: give it a moment, without racing it.
    for _ in range(50):
        await tabs[0].drain(0.05)
        await tabs[1].drain(0.05)
        await database_sync_to_async(_operator_says)(conversation_id, operator, ["we got your message"])
        heard = []
        for tab in tabs:
            if not await tab.communicator.receive_nothing(0.2):
                heard.append(await tab.recv_type("message"))
        if len(heard) == 2:
            break
    assert [(f["conversation"], f["message"]["body"]) for f in heard] == [(conversation_id, "we got your message")] * 2


async def test_read_receipts_reach_the_other_side(visitor_socket, operator_socket, operator, conversation):
    await operator_socket.watch(conversation.pk)
    await database_sync_to_async(_operator_says)(conversation.pk, operator, ["hello", "there"])
    await visitor_socket.drain()
    await operator_socket.drain()
    await visitor_socket.send({"type": "read", "conversation": conversation.pk, "seq": 2})
    receipt = await operator_socket.recv_type("read")
    assert receipt == {"type": "read", "conversation": conversation.pk, "side": "visitor", "seq": 2}


async def test_a_second_tab_hears_the_chat_the_first_tab_started(sockets, visitor_token, operator):
    first_tab, _ = await sockets(f"/ws/widget/?token={visitor_token}")
    second_tab, hello = await sockets(f"/ws/widget/?token={visitor_token}")
    assert hello["conversation"] is None
    await first_tab.send({"type": "send", "client_id": "tab-1", "body": "from the first tab"})
    conversation_id = (await first_tab.recv_type("ack"))["conversation"]
    # The follow event travels through the channel layer: give it a moment, without racing it.
    for _ in range(50):
        await database_sync_to_async(_operator_says)(conversation_id, operator, ["hello both tabs"])
        # Not its own first message: the broadcast is with the layer before the socket joins the new
        # conversation's group and acks (docs/protocol.md, "Delivery guarantees").
        assert (await first_tab.recv_type("message"))["message"]["body"] == "hello both tabs"
        if not await second_tab.communicator.receive_nothing(0.1):
            break
    seen = await second_tab.recv_type("message")
    if seen["message"]["body"] == "from the first tab":
        # conversation_start tells the other tabs before the first message is announced, so a tab
        # that joined in time also hears the message that started the chat.
        seen = await second_tab.recv_type("message")
    assert (seen["conversation"], seen["message"]["body"]) == (conversation_id, "hello both tabs")


async def test_a_visitor_socket_closes_4403_when_its_tenant_is_deactivated(quick_revalidation, visitor_socket, tenant):
    from apps.accounts.models import Tenant

    await database_sync_to_async(Tenant.objects.filter(pk=tenant.pk).update)(is_active=False)
    assert await visitor_socket.recv_type("__closed__") == {"type": "__closed__", "code": 4403}


async def test_an_unknown_socket_path_is_refused():
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/nothing-here/")
    connected, _code = await communicator.connect()
    assert not connected


# --- attachments -------------------------------------------------------------------------------------


def _upload(conversation: Conversation, side: str = "visitor") -> str:
    from django.core.files.uploadedfile import SimpleUploadedFile

    with scopes_disabled():
        tenant = conversation.tenant
    attachment = services.attachment_upload(
        tenant=tenant,
        conversation=conversation,
        file=SimpleUploadedFile("notes.txt", b"order 1234\n", content_type="text/plain"),
        uploader_side=side,
    )
    return attachment.token


async def test_a_message_with_an_uploaded_file_is_acked_with_it_and_the_token_works_once(
    settings, tmp_path, conversation, visitor_socket, operator_socket
):
    settings.MEDIA_ROOT = tmp_path
    await operator_socket.watch(conversation.pk)
    token = await database_sync_to_async(_upload)(conversation)
    frame = {"type": "send", "conversation": conversation.pk, "client_id": "file-1", "body": "", "attachments": [token]}
    await visitor_socket.send(frame)
    ack = await visitor_socket.recv_type("ack")
    assert ack["message"]["kind"] == "attachment"
    assert [a["filename"] for a in ack["message"]["attachments"]] == ["notes.txt"]
    seen = await operator_socket.recv_type("message")
    assert [a["token"] for a in seen["message"]["attachments"]] == [token]
    # The same token in another message is refused; nothing is stored.
    await visitor_socket.send({**frame, "client_id": "file-2"})
    assert (await visitor_socket.recv_type("error"))["code"] == "bad_frame"
    assert len(await stored_messages(conversation.pk)) == 1


async def test_resume_pages_through_long_gaps_in_order(monkeypatch, conversation, visitor_socket, operator):
    from apps.conversations import selectors

    monkeypatch.setattr(selectors, "RESUME_PAGE", 3)
    bodies = [f"line {n}" for n in range(8)]
    await database_sync_to_async(_operator_says)(conversation.pk, operator, bodies)
    await visitor_socket.drain(0.1)
    await visitor_socket.send({"type": "resume", "conversations": {str(conversation.pk): 1}})
    frames = await visitor_socket.until("resumed")
    assert [f["message"]["body"] for f in frames if f["type"] == "message"] == bodies[1:]
    assert frames[-1] == {"type": "resumed", "conversations": {str(conversation.pk): 8}}


async def test_a_server_failure_is_a_server_error_frame_and_the_resend_then_works(monkeypatch, visitor_socket):
    # The message's store, under the one way in (services/inbound.py) that the socket calls.
    real_store = services.inbound.message_store
    calls = []

    def failing_once(**kwargs):
        calls.append(kwargs["draft"].client_id)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real_store(**kwargs)

    monkeypatch.setattr(services.inbound, "message_store", failing_once)
    frame = {"type": "send", "client_id": "retry-1", "body": "hello?"}
    await visitor_socket.send(frame)
    error = await visitor_socket.recv_type("error")
    assert (error["code"], error["ref"]) == ("server_error", "retry-1")
    assert "database" not in error["message"]  # no internals leak to the client
    await visitor_socket.send(frame)
    ack = await visitor_socket.recv_type("ack")
    assert ack["seq"] == 1
    assert calls == ["retry-1", "retry-1"]
