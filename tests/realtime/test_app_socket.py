"""/ws/app/: an operator's socket (docs/protocol.md)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django_scopes import scopes_disabled

from apps.accounts.models import Membership, Role
from apps.conversations import services
from apps.conversations.models import Conversation
from apps.conversations.sockets.operator import OperatorConsumer
from tests import factories
from tests.realtime.conftest import session_cookie, stored_messages

pytestmark = pytest.mark.usefixtures("live_db")


def _unscoped(fn):
    def call(*args, **kwargs):
        with scopes_disabled():
            return fn(*args, **kwargs)

    return call


def _deactivate(membership: Membership) -> None:
    with scopes_disabled():
        Membership.objects.filter(pk=membership.pk).update(is_active=False)


# --- handshake ---------------------------------------------------------------------------------------


async def test_an_anonymous_socket_is_closed_4401(sockets):
    socket, first = await sockets("/ws/app/")
    assert first == {"type": "__closed__", "code": 4401}


async def test_a_session_with_a_stale_password_hash_is_closed_4401(sockets, operator):
    cookie = await database_sync_to_async(session_cookie)(operator.user)

    def change_password():
        operator.user.set_password("a brand new password")
        operator.user.save()

    await database_sync_to_async(change_password)()
    socket, first = await sockets("/ws/app/", cookie=cookie)
    assert first == {"type": "__closed__", "code": 4401}


@pytest.mark.parametrize("origin", ["https://evil.example", "null", None, "http://localhost.evil.example:8000"])
async def test_a_foreign_origin_is_closed_4403(sockets, operator_cookie, origin):
    socket, first = await sockets("/ws/app/", cookie=operator_cookie, origin=origin)
    assert first == {"type": "__closed__", "code": 4403}


async def test_a_user_without_an_active_membership_is_closed_4403(sockets, operator):
    await database_sync_to_async(_deactivate)(operator)
    cookie = await database_sync_to_async(session_cookie)(operator.user)
    socket, first = await sockets("/ws/app/", cookie=cookie)
    assert first == {"type": "__closed__", "code": 4403}


async def test_hello_names_the_tenant_and_the_operator(sockets, operator, operator_cookie):
    socket, hello = await sockets("/ws/app/", cookie=operator_cookie)
    assert hello["type"] == "hello"
    assert (hello["tenant"], hello["operator"]) == (operator.tenant_id, operator.pk)


# --- actions -----------------------------------------------------------------------------------------


async def test_an_operator_reply_is_acked_and_reaches_the_visitor(conversation, visitor_socket, operator_socket):
    await operator_socket.send({"type": "send", "conversation": conversation.pk, "client_id": "r-1", "body": "Hi!"})
    ack = await operator_socket.recv_type("ack")
    assert (ack["conversation"], ack["seq"], ack["message"]["body"]) == (conversation.pk, 1, "Hi!")
    seen = await visitor_socket.recv_type("message")
    assert seen["message"]["body"] == "Hi!"
    assert seen["message"]["author_type"] == "operator"
    assert "author_id" not in seen["message"]  # the visitor's audience


def _online(membership):
    from apps.routing.presence import presence_set

    with scopes_disabled():
        tenant = membership.tenant
    presence_set(tenant=tenant, membership=membership, status="online")


async def test_accept_close_reopen_and_transfer_change_the_conversation_and_answer_ok(
    conversation, operator_socket, operator, owner, visitor_socket
):
    async def act(frame):
        await operator_socket.send({**frame, "conversation": conversation.pk, "ref": frame["type"]})
        reply = await operator_socket.recv_type("ok", "error")
        assert reply == {"type": "ok", "action": frame["type"], "conversation": conversation.pk, "ref": frame["type"]}
        return await database_sync_to_async(_unscoped(Conversation.objects.get))(pk=conversation.pk)

    fresh = await act({"type": "accept"})
    assert (fresh.status, fresh.assignee_id) == ("open", operator.pk)
    fresh = await act({"type": "transfer", "to_operator": owner.pk, "note": "billing question"})
    assert fresh.assignee_id == owner.pk
    fresh = await act({"type": "close"})
    assert fresh.status == "closed"
    # The reopened chat stays with its operator because they are online (apps/routing requeues it otherwise).
    await database_sync_to_async(_online)(owner)
    fresh = await act({"type": "reopen"})
    assert fresh.status == "open"

    events = [f for f in await visitor_socket.until("conversation", count=4) if f["type"] == "conversation"]
    assert [e["event"] for e in events] == ["assigned", "transferred", "closed", "reopened"]
    visitor_view = await visitor_socket.drain()
    assert "billing question" not in str(visitor_view)


async def test_a_second_accept_by_another_operator_is_a_conflict(sockets, operator_socket, owner, conversation):
    await operator_socket.send({"type": "accept", "conversation": conversation.pk})
    await operator_socket.recv_type("ok")
    owner_socket, _ = await sockets("/ws/app/", cookie=await database_sync_to_async(session_cookie)(owner.user))
    await owner_socket.send({"type": "accept", "conversation": conversation.pk, "ref": 7})
    error = await owner_socket.recv_type("error")
    assert (error["code"], error["ref"]) == ("conflict", 7)


async def test_an_operator_deactivated_mid_session_is_refused(operator_socket, operator, conversation):
    await database_sync_to_async(_deactivate)(operator)
    await operator_socket.send({"type": "send", "conversation": conversation.pk, "client_id": "x", "body": "still?"})
    assert (await operator_socket.recv_type("error"))["code"] == "forbidden"
    assert await stored_messages(conversation.pk) == []


async def test_a_transfer_to_another_tenants_operator_is_not_found(operator_socket, other_operator, conversation):
    await operator_socket.send({"type": "transfer", "conversation": conversation.pk, "to_operator": other_operator.pk})
    assert (await operator_socket.recv_type("error"))["code"] == "not_found"
    fresh = await database_sync_to_async(_unscoped(Conversation.objects.get))(pk=conversation.pk)
    assert fresh.assignee_id is None


async def test_operators_of_the_tenant_see_every_message_and_other_tenants_see_none(
    sockets, visitor_socket, operator_socket, other_operator
):
    other_socket, _ = await sockets(
        "/ws/app/", cookie=await database_sync_to_async(session_cookie)(other_operator.user)
    )
    await visitor_socket.send({"type": "send", "client_id": "v-1", "body": "for Acme only"})
    conversation_id = (await visitor_socket.recv_type("ack"))["conversation"]
    # Every operator of the tenant sees it in the lists; the one who opens the chat gets the bodies.
    listed = (await operator_socket.recv_type("list"))["conversations"]
    assert [(item["id"], item["last_message"]["body"]) for item in listed] == [(conversation_id, "for Acme only")]
    await operator_socket.watch(conversation_id)
    await visitor_socket.send({"type": "send", "client_id": "v-2", "body": "still for Acme only"})
    await visitor_socket.recv_type("ack")
    assert (await operator_socket.recv_type("message"))["message"]["body"] == "still for Acme only"
    assert "for Acme only" not in str(await other_socket.drain())


# --- isolation: every action, another tenant's conversation ---------------------------------------------

# A frame for every operator action that names a conversation; "{cid}" becomes the target id.
OPERATOR_SAMPLE_FRAMES = {
    "send": {"type": "send", "conversation": "{cid}", "client_id": "iso-1", "body": "hello from Acme"},
    "note": {"type": "send", "kind": "note", "conversation": "{cid}", "client_id": "iso-2", "body": "a note"},
    "resume": {"type": "resume", "conversations": {"{cid}": 0}},
    "typing": {"type": "typing", "conversation": "{cid}", "on": True},
    "read": {"type": "read", "conversation": "{cid}", "seq": 1},
    "accept": {"type": "accept", "conversation": "{cid}"},
    "close": {"type": "close", "conversation": "{cid}"},
    "reopen": {"type": "reopen", "conversation": "{cid}"},
    "transfer": {"type": "transfer", "conversation": "{cid}", "to_operator": "{me}"},
    "watch": {"type": "watch", "conversation": "{cid}"},
    "unwatch": {"type": "unwatch", "conversation": "{cid}"},
}
OPERATOR_ACTIONS_WITHOUT_CONVERSATION = {"ping"}


def _aimed(template, conversation_id: int, membership_id: int):
    if template == "{cid}":
        return conversation_id
    if template == "{me}":
        return membership_id
    if isinstance(template, dict):
        return {
            (str(conversation_id) if key == "{cid}" else key): _aimed(value, conversation_id, membership_id)
            for key, value in template.items()
        }
    return template


def test_every_operator_action_has_an_isolation_sample():
    """A new action in OperatorConsumer.handlers must be added here, and is then tried across tenants."""
    sampled = {frame["type"] for frame in OPERATOR_SAMPLE_FRAMES.values()}
    assert set(OperatorConsumer.handlers) - OPERATOR_ACTIONS_WITHOUT_CONVERSATION == sampled


def _other_tenants_chat(other_tenant, other_visitor, state: str) -> Conversation:
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=other_tenant, visitor=other_visitor)
    services.message_send(
        tenant=other_tenant, conversation=conversation, author_type="visitor", body="Globex secret", client_id="s-1"
    )
    if state == "closed":
        services.conversation_close(tenant=other_tenant, conversation=conversation)
    with scopes_disabled():
        return Conversation.objects.get(pk=conversation.pk)


@pytest.mark.parametrize("state", ["queued", "closed"])
@pytest.mark.parametrize("action", sorted(OPERATOR_SAMPLE_FRAMES))
async def test_an_operator_cannot_act_on_another_tenants_conversation(
    settings, operator_socket, operator, other_tenant, other_visitor, other_operator, action, state
):
    # The setup's list items go out at once, not at the end of a coalescing window that would
    # close after Globex's socket below opened (this test is about what the action announces).
    settings.PARLEY_LIST_COALESCE_SECONDS = 0
    target = await database_sync_to_async(_other_tenants_chat)(other_tenant, other_visitor, state)
    before = await stored_messages(target.pk)
    other_ops = await _listen_as(other_operator)
    await operator_socket.drain(0.05)

    await operator_socket.send(_aimed(OPERATOR_SAMPLE_FRAMES[action], target.pk, operator.pk))
    frames = await operator_socket.until("error")
    frames += await operator_socket.drain(0.1)
    assert [f["code"] for f in frames if f["type"] == "error"] == ["not_found"], frames
    assert not [f for f in frames if f["type"] in ("message", "ack", "ok")]
    assert "Globex secret" not in str(frames)

    after = await database_sync_to_async(_unscoped(Conversation.objects.get))(pk=target.pk)
    assert await stored_messages(target.pk) == before
    assert (after.status, after.assignee_id, after.operator_read_seq, after.last_seq) == (
        target.status,
        target.assignee_id,
        target.operator_read_seq,
        target.last_seq,
    )
    assert await other_ops.drain(0.05) == []  # nothing was announced to Globex either
    await other_ops.close()


async def _listen_as(membership):
    """A raw socket of another tenant's operator, opened outside the `sockets` fixture."""
    from channels.testing import WebsocketCommunicator

    from config.asgi import application
    from tests.realtime.conftest import PARLEY_ORIGIN, Socket

    cookie = await database_sync_to_async(session_cookie)(membership.user)
    communicator = WebsocketCommunicator(
        application, "/ws/app/", headers=[(b"origin", PARLEY_ORIGIN.encode()), (b"cookie", cookie.encode())]
    )
    assert (await communicator.connect())[0]
    socket = Socket(communicator)
    assert (await socket.recv())["type"] == "hello"
    return socket


async def test_an_admin_of_the_tenant_reaches_the_same_conversations(sockets, tenant, conversation):
    admin = await database_sync_to_async(_unscoped(factories.MembershipFactory))(tenant=tenant, role=Role.ADMIN)
    socket, _ = await sockets("/ws/app/", cookie=await database_sync_to_async(session_cookie)(admin.user))
    await socket.send({"type": "resume", "conversations": {str(conversation.pk): 0}})
    assert await socket.recv() == {"type": "resumed", "conversations": {str(conversation.pk): 0}}


# --- an open socket loses its rights with its credentials ------------------------------------------------


def _log_out(cookie: str) -> None:
    from django.contrib.sessions.models import Session

    Session.objects.filter(session_key=cookie.split("=", 1)[1]).delete()


async def test_an_operator_deactivated_while_connected_is_disconnected_4403(
    quick_revalidation, sockets, operator, operator_cookie
):
    socket, _ = await sockets("/ws/app/", cookie=operator_cookie)
    await database_sync_to_async(_deactivate)(operator)
    assert await socket.recv_type("__closed__") == {"type": "__closed__", "code": 4403}


async def test_an_operator_who_logged_out_elsewhere_is_disconnected_4401(
    quick_revalidation, sockets, visitor_socket, operator_cookie
):
    socket, _ = await sockets("/ws/app/", cookie=operator_cookie)
    await socket.send({"type": "ping"})
    assert await socket.recv() == {"type": "pong"}
    await database_sync_to_async(_log_out)(operator_cookie)
    assert await socket.recv_type("__closed__") == {"type": "__closed__", "code": 4401}
    # The visitor's socket is not affected.
    await visitor_socket.send({"type": "ping"})
    assert await visitor_socket.recv() == {"type": "pong"}


async def test_a_socket_rejoins_its_groups_after_the_layer_forgot_them(
    settings, sockets, operator_cookie, visitor_socket
):
    """What a Redis restart (or `group_expiry`) does to the core layer's memberships, while the socket stays open."""
    from channels.layers import get_channel_layer

    settings.PARLEY_SOCKET_GROUP_REFRESH_SECONDS = 0.1
    socket, _ = await sockets("/ws/app/", cookie=operator_cookie)
    await visitor_socket.send({"type": "send", "client_id": "opening", "body": "hello"})
    await socket.watch((await visitor_socket.recv_type("ack"))["conversation"])
    get_channel_layer().groups.clear()
    await visitor_socket.send({"type": "send", "client_id": "after-amnesia", "body": "anyone?"})
    await visitor_socket.recv_type("ack")
    # Published at once, usually before the socket re-joined: then that one is lost (resume finds it);
    # on a slow machine the re-join (every 0.1 s here) may come first and it arrives. Either way the
    # next ones arrive live.
    for attempt in range(30):
        await visitor_socket.send({"type": "send", "client_id": f"later-{attempt}", "body": "still there?"})
        await visitor_socket.recv_type("ack")
        if not await socket.communicator.receive_nothing(0.1):
            break
    bodies = [(await socket.recv_type("message"))["message"]["body"]]
    if bodies == ["anyone?"]:
        bodies.append((await socket.recv_type("message"))["message"]["body"])
    assert bodies[-1] == "still there?"
