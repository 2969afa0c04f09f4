"""The real stack: two daphne processes, one Redis, a visitor and an operator on different processes.

Slow (they start processes). Each test checks the delivery promise of docs/protocol.md
end to end: nothing lost and nothing duplicated when a daphne process or Redis dies.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import pytest

from tests.realtime.stack import CORE_LAYER, PUBSUB_LAYER, ChatClient, Daphne, Stack, post_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("realtime-stack"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def servers(stack, request):
    """Two running daphne servers (a test that kills one gets it replaced for the next test)."""
    return stack.daphnes(2, layer=getattr(request, "param", PUBSUB_LAYER))


def _open_session(server, stack) -> str:
    anonymous_id = f"visitor-{uuid.uuid4().hex[:12]}"
    session = post_json(
        server.http("/widget/api/session"), {"key": stack.seed_data["widget_key"], "anonymous_id": anonymous_id}
    )
    return session["token"]


def _clients(token: str, stack) -> tuple[ChatClient, ChatClient]:
    visitor = ChatClient("visitor", f"/ws/widget/?token={token}")
    operator = ChatClient("operator", "/ws/app/", headers={"Cookie": stack.seed_data["cookie"]})
    return visitor, operator


async def _history(server, stack, conversation: int) -> list[dict]:
    """The conversation as the database holds it, read through a fresh operator socket."""
    auditor = ChatClient("auditor", "/ws/app/", headers={"Cookie": stack.seed_data["cookie"]})
    auditor.conversation = conversation
    await auditor.connect(server)
    await auditor.close()
    seqs = auditor.seen.get(conversation, {})
    return [seqs[seq] for seq in sorted(seqs)]


def _assert_complete(history: list[dict], *clients: ChatClient, conversation: int) -> None:
    assert [m["seq"] for m in history] == list(range(1, len(history) + 1))
    client_ids = [m["client_id"] for m in history]
    assert len(client_ids) == len(set(client_ids)), "a message was stored twice"
    for client in clients:
        assert client.outbox == {}, f"{client.name} still has unacked messages"
        assert client.bodies(conversation) == [m["body"] for m in history], client.name


async def test_a_visitor_and_an_operator_on_two_daphnes_chat_and_survive_one_dying(stack, servers):
    a, b = servers
    token = await asyncio.to_thread(_open_session, a, stack)
    visitor, operator = _clients(token, stack)
    try:
        await visitor.connect(a)
        await operator.connect(b)

        started = time.monotonic()
        first = await visitor.send("Hello, I am on daphne A")
        await visitor.wait_until(lambda: first in visitor.acks, what="the first ack")
        conversation = visitor.acks[first]["conversation"]
        await operator.wait_until(lambda: "Hello, I am on daphne A" in operator.bodies(conversation), what="A -> B")
        a_to_b = time.monotonic() - started

        started = time.monotonic()
        await operator.send("Hi! I answer from daphne B", conversation=conversation)
        await visitor.wait_until(lambda: "Hi! I answer from daphne B" in visitor.bodies(conversation), what="B -> A")
        b_to_a = time.monotonic() - started
        # Steady state: send -> seen on the other process, one message at a time, both ways.
        visitor_to_operator, operator_to_visitor = [], []
        for n in range(5):
            for sender, receiver, timings in (
                (visitor, operator, visitor_to_operator),
                (operator, visitor, operator_to_visitor),
            ):
                body = f"{sender.name} line {n}"
                started = time.monotonic()
                await sender.send(body, conversation=conversation)
                await receiver.wait_until(lambda b=body, r=receiver: b in r.bodies(conversation), what=body)
                timings.append(time.monotonic() - started)
        await visitor.wait_until(lambda: len(visitor.bodies(conversation)) == 12, what="12 messages at the visitor")
        await operator.wait_until(lambda: len(operator.bodies(conversation)) == 12, what="12 at the operator")

        a.kill()  # mid-conversation: the visitor's socket drops with its process
        await visitor.wait_until(lambda: not visitor.connected, what="the drop")
        await visitor.send("typed while daphne A was dead")  # stays in the outbox
        for n in range(3):
            await operator.send(f"while you were away {n}", conversation=conversation)
        await operator.wait_until(lambda: not operator.outbox, what="operator acks")

        await visitor.connect(b)  # resends the outbox, resumes from its last contiguous seq
        await visitor.wait_until(lambda: not visitor.outbox, what="the outbox to drain")
        await operator.wait_until(
            lambda: "typed while daphne A was dead" in operator.bodies(conversation), what="the resent message"
        )
        history = await _history(b, stack, conversation)
        assert len(history) == 16
        _assert_complete(history, visitor, operator, conversation=conversation)
        print(
            f"\nacross processes, first message (starts the chat) A->B {a_to_b * 1000:.0f} ms, first reply B->A "
            f"{b_to_a * 1000:.0f} ms; then median visitor->operator {statistics.median(visitor_to_operator) * 1000:.0f}"
            f" ms, operator->visitor {statistics.median(operator_to_visitor) * 1000:.0f} ms"
        )
    finally:
        await visitor.close()
        await operator.close()


@pytest.mark.parametrize("servers", [PUBSUB_LAYER, CORE_LAYER], indirect=True, ids=["pubsub", "core"])
async def test_a_redis_restart_mid_conversation_loses_nothing(stack, servers):
    a, b = servers
    token = await asyncio.to_thread(_open_session, a, stack)
    visitor, operator = _clients(token, stack)
    try:
        await visitor.connect(a)
        await operator.connect(b)
        first = await visitor.send("before the restart")
        await visitor.wait_until(lambda: first in visitor.acks, what="the first ack")
        conversation = visitor.acks[first]["conversation"]
        await operator.wait_until(lambda: "before the restart" in operator.bodies(conversation), what="A -> B")

        stack.redis.kill()
        # The database still takes messages; the broadcasts of these are lost with Redis.
        await visitor.send("while Redis is down (visitor)")
        await operator.send("while Redis is down (operator)", conversation=conversation)
        await _settle(visitor, operator)
        stack.redis.start()
        restarted = time.monotonic()

        # Every socket works again: reconnect a dropped one, then chat live both ways.
        recovered = await _first_live_round_trip(visitor, operator, conversation, servers=(a, b))
        recovery = time.monotonic() - restarted

        await visitor.resume()
        await operator.resume()
        await _settle(visitor, operator)
        history = await _history(b, stack, conversation)
        bodies = [m["body"] for m in history]
        assert "while Redis is down (visitor)" in bodies
        assert "while Redis is down (operator)" in bodies
        assert recovered in bodies
        _assert_complete(history, visitor, operator, conversation=conversation)
        print(
            f"\n{servers[0].layer.rsplit('.', 1)[-1]}: live delivery back {recovery:.2f} s after Redis restarted; "
            f"reconnects: visitor {visitor.reconnects}, operator {operator.reconnects}"
        )
    finally:
        await visitor.close()
        await operator.close()


async def _settle(*clients: ChatClient, timeout: float = 10.0) -> None:
    """Until every client's outbox is acked, reconnecting to its server when its socket dropped."""
    for client in clients:
        await client.wait_until(lambda c=client: not c.outbox or not c.connected, timeout=timeout, what="acks")


async def _first_live_round_trip(
    visitor: ChatClient, operator: ChatClient, conversation: int, *, servers: tuple[Daphne, Daphne]
) -> str:
    """Send probes both ways until one arrives live on the other side; returns the visitor's probe body.

    The core layer may drop a socket while it reconnects to the restarted Redis (a receive on
    the channel fails), so each attempt first reconnects a dropped client, as a browser would.
    """
    deadline = time.monotonic() + 30
    attempt = 0
    while True:
        attempt += 1
        for client, server in zip((visitor, operator), servers, strict=True):
            if not client.connected:
                client.reconnects += 1
                await client.connect(server, retry_for=10)
        body = f"probe {attempt} after the restart"
        reply = f"probe reply {attempt}"
        await visitor.send(body, conversation=conversation)
        try:
            await operator.wait_until(lambda b=body: b in operator.bodies(conversation), timeout=1.0)
            await operator.send(reply, conversation=conversation)
            await visitor.wait_until(lambda r=reply: r in visitor.bodies(conversation), timeout=1.0)
            return body
        except AssertionError:
            if time.monotonic() > deadline:
                raise
