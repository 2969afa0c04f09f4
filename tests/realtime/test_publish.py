"""How a write's broadcast leaves a daphne process: handed to the event loop, in commit order.

The database thread (one per process, every socket's services run on it) must not wait on
the channel layer; the sockets still answer only after the broadcast of what they answer is
with the layer. `GatedLayer` is the in-memory layer with a gate, so a test can stall "Redis".
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django_scopes import scopes_disabled

from apps.conversations import events, services
from apps.conversations.models import Conversation

pytestmark = pytest.mark.usefixtures("live_db")


class GatedLayer(InMemoryChannelLayer):
    """`group_send` waits while `gate` is closed; with `stagger`, each send returns sooner than the one
    before, so sends to one group that overlapped would arrive out of order."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gate = asyncio.Event()
        self.gate.set()
        self.stagger = 0
        self.group_sends = 0

    async def group_send(self, group, message):
        await self.gate.wait()
        if self.stagger:
            self.stagger -= 1
            await asyncio.sleep(0.002 * self.stagger)
        self.group_sends += 1
        await super().group_send(group, message)


@pytest.fixture
def layer(settings) -> GatedLayer:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.GatedLayer"}}
    return get_channel_layer()


def _operator_says(conversation_id: int, membership, bodies: list[str]) -> None:
    with scopes_disabled():
        conversation = Conversation.objects.get(pk=conversation_id)
        tenant = conversation.tenant
    for body in bodies:
        services.message_send(
            tenant=tenant,
            conversation=conversation,
            author_type="operator",
            author=membership,
            body=body,
            client_id=f"op-{uuid.uuid4().hex[:8]}",
        )


async def test_the_database_thread_does_not_wait_while_the_layer_is_stalled(layer, conversation, operator):
    channel = await layer.new_channel()
    await layer.group_add(events.conversation_group(conversation.pk), channel)
    layer.gate.clear()
    # With a publish that waited on the layer, this would hang until the gate opens.
    await asyncio.wait_for(database_sync_to_async(_operator_says)(conversation.pk, operator, ["hello"]), 10)
    assert layer.group_sends == 0
    layer.gate.set()
    await events.outbox_flush()
    assert layer.group_sends >= 1
    frame = (await layer.receive(channel))["text"]
    assert '"body":"hello"' in frame


async def test_frames_to_one_group_leave_in_commit_order(layer, conversation, operator):
    channel = await layer.new_channel()
    await layer.group_add(events.conversation_group(conversation.pk), channel)
    bodies = [f"m{n}" for n in range(8)]
    layer.stagger = 20  # overlapping sends to one group would come out last-first
    await database_sync_to_async(_operator_says)(conversation.pk, operator, bodies[:4])
    await database_sync_to_async(_operator_says)(conversation.pk, operator, bodies[4:])
    await events.outbox_flush()
    received = [(await layer.receive(channel))["text"] for _ in bodies]
    assert [text.split('"body":"')[1].split('"')[0] for text in received] == bodies


async def test_an_ack_leaves_only_after_the_broadcast_of_its_message(
    layer, sockets, visitor_token, conversation, operator
):
    visitor, hello = await sockets(f"/ws/widget/?token={visitor_token}")
    assert hello["conversation"] == conversation.pk
    await visitor.send({"type": "send", "client_id": "v-1", "body": "first"})
    await visitor.recv_type("ack")
    assert (await visitor.recv_type("message"))["message"]["client_id"] == "v-1"  # its echo, after the ack
    await visitor.drain()
    layer.gate.clear()
    await visitor.send({"type": "send", "client_id": "v-2", "body": "second"})
    assert await visitor.communicator.receive_nothing(0.3), "acked while its broadcast was still waiting"
    layer.gate.set()
    ack = await visitor.recv()
    assert (ack["type"], ack["client_id"]) == ("ack", "v-2")
    echo = await visitor.recv_type("message")
    assert echo["message"]["client_id"] == "v-2"


def test_outside_an_event_loop_the_publish_is_sent_before_the_commit_returns(layer, conversation, operator):
    # A Celery worker or a management command: nobody would drain a hand-over, so it is sent at once.
    from asgiref.sync import async_to_sync

    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.conversation_group(conversation.pk), channel)
    with transaction.atomic():
        _operator_says(conversation.pk, operator, ["from a task"])
        assert layer.group_sends == 0  # on commit, not before
    assert layer.group_sends >= 1
    assert '"body":"from a task"' in async_to_sync(layer.receive)(channel)["text"]
