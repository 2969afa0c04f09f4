"""Who receives what (docs/protocol.md, "Groups"): bodies to the chat's watchers, the lists to everyone.

A message body, a visitor's draft and a read receipt reach the visitor, the conversation's
assignee and the operators who opened it (`watch`); every other operator of the tenant gets
the compact `list` item only, so a message costs the same whatever the size of the team.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django_scopes import scopes_disabled

from apps.conversations import listfeed, services
from apps.conversations.models import Conversation
from tests.realtime.conftest import session_cookie

pytestmark = pytest.mark.usefixtures("live_db")


@pytest.fixture(autouse=True)
def _no_coalescing(settings):
    # Every list item goes out in the publish that made it, so each test reads them one by one;
    # the coalescing window itself is tested on ListFeed below.
    settings.PARLEY_LIST_COALESCE_SECONDS = 0


async def _operator_socket(sockets, membership):
    socket, hello = await sockets("/ws/app/", cookie=await database_sync_to_async(session_cookie)(membership.user))
    assert hello["type"] == "hello"
    return socket


def _types(frames: list[dict]) -> list[str]:
    return [frame["type"] for frame in frames]


async def test_an_operator_who_neither_opened_nor_owns_a_chat_gets_its_list_items_but_no_bodies_or_drafts(
    sockets, visitor_socket, operator_socket, owner, conversation
):
    colleague = await _operator_socket(sockets, owner)
    await operator_socket.watch(conversation.pk)

    await visitor_socket.send({"type": "typing", "conversation": conversation.pk, "on": True, "draft": "my order 4411"})
    await visitor_socket.send({"type": "send", "conversation": conversation.pk, "client_id": "v-1", "body": "Hello?"})
    await visitor_socket.recv_type("ack")
    watcher = await operator_socket.until("list")
    watcher += await operator_socket.drain(0.2)
    assert "typing" in _types(watcher) and "message" in _types(watcher)
    await operator_socket.send({"type": "read", "conversation": conversation.pk, "seq": 1})
    assert (await operator_socket.recv_type("read"))["side"] == "operator"

    heard = await colleague.until("list", count=2)
    heard += await colleague.drain(0.2)
    assert "typing" not in _types(heard) and "message" not in _types(heard) and "read" not in _types(heard)
    assert "my order 4411" not in str(heard)
    items = [item for frame in heard if frame["type"] == "list" for item in frame["conversations"]]
    assert items[0]["id"] == conversation.pk
    assert (items[0]["last_seq"], items[0]["last_message"]["body"], items[0]["visitor_seqs"]) == (1, "Hello?", [1])
    assert items[0]["status"] == "queued" and items[0]["last_message_at"]
    assert items[-1] == {"id": conversation.pk, "operator_read_seq": 1}  # the unread count clears everywhere


async def test_unwatch_stops_the_bodies(visitor_socket, operator_socket, conversation):
    await operator_socket.watch(conversation.pk)
    await operator_socket.send({"type": "unwatch", "conversation": conversation.pk, "ref": 3})
    assert await operator_socket.recv_type("ok") == {
        "type": "ok",
        "action": "unwatch",
        "conversation": conversation.pk,
        "ref": 3,
    }
    await visitor_socket.send({"type": "send", "conversation": conversation.pk, "client_id": "v-1", "body": "Hi"})
    await visitor_socket.recv_type("ack")
    heard = await operator_socket.until("list")
    heard += await operator_socket.drain(0.2)
    assert "message" not in _types(heard)


async def test_the_assignee_gets_the_bodies_without_watching_and_the_next_assignee_after_a_transfer(
    sockets, visitor_socket, operator_socket, operator, owner, conversation
):
    colleague = await _operator_socket(sockets, owner)
    await operator_socket.send({"type": "accept", "conversation": conversation.pk})
    await operator_socket.recv_type("ok")
    await visitor_socket.send({"type": "send", "conversation": conversation.pk, "client_id": "v-1", "body": "one"})
    await visitor_socket.recv_type("ack")
    assert (await operator_socket.recv_type("message"))["message"]["body"] == "one"

    await operator_socket.send({"type": "transfer", "conversation": conversation.pk, "to_operator": owner.pk})
    await operator_socket.recv_type("ok")
    transferred = await colleague.recv_type("conversation")
    while transferred["event"] != "transferred":  # the accept's `assigned` came first
        transferred = await colleague.recv_type("conversation")
    assert transferred["conversation"]["assignee"]["id"] == owner.pk
    await operator_socket.drain(0.2)
    await visitor_socket.send({"type": "send", "conversation": conversation.pk, "client_id": "v-2", "body": "two"})
    await visitor_socket.recv_type("ack")
    assert (await colleague.recv_type("message"))["message"]["body"] == "two"
    left = await operator_socket.until("list")
    left += await operator_socket.drain(0.2)
    assert "message" not in _types(left)  # transferred away, and not open there


def _assign(conversation_id: int, membership) -> None:
    with scopes_disabled():
        conversation = Conversation.objects.get(pk=conversation_id)
    services.conversation_assign(tenant=membership.tenant, conversation=conversation, assignee=membership, by=None)


async def test_a_socket_follows_the_chats_already_assigned_when_it_connects(
    sockets, visitor_socket, owner, conversation
):
    await database_sync_to_async(_assign)(conversation.pk, owner)
    colleague = await _operator_socket(sockets, owner)
    await visitor_socket.send({"type": "send", "conversation": conversation.pk, "client_id": "v-1", "body": "back"})
    await visitor_socket.recv_type("ack")
    assert (await colleague.recv_type("message"))["message"]["body"] == "back"


async def test_a_closed_chat_stops_reaching_its_assignee_unless_open_there(
    visitor_socket, operator_socket, operator, conversation
):
    await database_sync_to_async(_assign)(conversation.pk, operator)
    # The socket has heard the assignment (and followed the chat) before the operator closes it: a service
    # called from a database thread hands its broadcast to the loop and returns before it is sent.
    assert (await operator_socket.recv_type("conversation"))["event"] == "assigned"
    await operator_socket.send({"type": "close", "conversation": conversation.pk})
    await operator_socket.recv_type("ok")
    await operator_socket.recv_type("conversation")
    await operator_socket.send(
        {"type": "send", "kind": "note", "conversation": conversation.pk, "client_id": "n-1", "body": "after closing"}
    )
    await operator_socket.recv_type("ack")
    heard = await operator_socket.until("list")
    heard += await operator_socket.drain(0.2)
    assert "message" not in _types(heard)
    await operator_socket.watch(conversation.pk)  # the operator opens the closed chat
    await operator_socket.send(
        {
            "type": "send",
            "kind": "note",
            "conversation": conversation.pk,
            "client_id": "n-2",
            "body": "reading it again",
        }
    )
    assert (await operator_socket.recv_type("message"))["message"]["body"] == "reading it again"


async def test_watching_many_chats_drops_the_oldest(monkeypatch, tenant, visitor, operator, operator_socket):
    from apps.conversations.sockets import operator as operator_socket_module
    from tests import factories

    monkeypatch.setattr(operator_socket_module, "WATCHED_MAX", 2)

    def chats():
        with scopes_disabled():
            return [factories.ConversationFactory(tenant=tenant, visitor=visitor).pk for _ in range(3)]

    first, second, third = await database_sync_to_async(chats)()
    for conversation_id in (first, second, third):
        await operator_socket.watch(conversation_id)
    await database_sync_to_async(_operator_notes)(tenant, operator, [first, third])
    heard = await operator_socket.until("message")
    heard += await operator_socket.drain(0.2)
    assert [f["conversation"] for f in heard if f["type"] == "message"] == [third]


def _operator_notes(tenant, author, conversation_ids: list[int]) -> None:
    with scopes_disabled():
        for conversation_id in conversation_ids:
            services.note_add(
                tenant=tenant,
                conversation=Conversation.objects.get(pk=conversation_id),
                author=author,
                body=f"note in {conversation_id}",
                client_id=f"n-{conversation_id}",
            )


# --- the coalescing window -------------------------------------------------------------------------------


async def test_a_window_sends_the_first_change_at_once_and_the_rest_merged_at_its_end(settings):
    settings.PARLEY_LIST_COALESCE_SECONDS = 3600  # the window ends when this test says so
    flushed: list[tuple[int, dict]] = []

    async def flush(tenant_id, frame):
        flushed.append((tenant_id, frame))

    feed = listfeed.ListFeed(flush=flush)
    loop = asyncio.get_running_loop()
    feed.serve_on(loop)
    item = {"id": 7, "status": "queued", "last_seq": 1, "last_message": {"seq": 1}, "visitor_seqs": [1]}
    assert feed.changed(1, item) == {"type": "list", "conversations": [item]}
    assert feed.changed(1, {**item, "last_seq": 3, "last_message": {"seq": 3}, "visitor_seqs": [3]}) is None
    assert feed.changed(1, {**item, "last_seq": 2, "last_message": {"seq": 2}, "visitor_seqs": [2]}) is None
    assert feed.changed(1, {"id": 7, "operator_read_seq": 2}) is None
    assert feed.changed(1, {"id": 8, "operator_read_seq": 1}) is None
    assert feed.changed(2, {"id": 9, "operator_read_seq": 4}) is not None  # another tenant has its own window

    feed._window_ended(loop, 1)
    await asyncio.sleep(0)
    [(tenant_id, frame)] = flushed
    assert tenant_id == 1
    by_id = {item["id"]: item for item in frame["conversations"]}
    # The newest message wins over a late older one; every visitor seq is kept; read marks only grow.
    assert by_id[7]["last_seq"] == 3 and by_id[7]["last_message"] == {"seq": 3}
    assert by_id[7]["visitor_seqs"] == [2, 3] and by_id[7]["operator_read_seq"] == 2
    assert by_id[8] == {"id": 8, "operator_read_seq": 1}

    # A window that ends with nothing waiting closes: the next change goes at once again.
    feed._window_ended(loop, 1)
    feed._window_ended(loop, 1)
    assert feed.changed(1, {"id": 7, "operator_read_seq": 3}) is not None


async def test_without_a_serving_loop_every_change_goes_at_once(settings):
    settings.PARLEY_LIST_COALESCE_SECONDS = 0.25
    feed = listfeed.ListFeed(flush=None)
    assert feed.changed(1, {"id": 1, "operator_read_seq": 1}) is not None
    assert feed.changed(1, {"id": 1, "operator_read_seq": 2}) is not None
