"""Both sockets under malformed frames, and a crashed socket leaves nothing running."""

import asyncio

import pytest

from apps.conversations.sockets import base as consumers

pytestmark = pytest.mark.usefixtures("live_db")

DEEP = "[" * 8000 + "]" * 8000  # 16 KB, under the frame limit: used to raise RecursionError


@pytest.fixture(params=["visitor", "operator"])
async def socket(request, visitor_socket, sockets, operator_cookie):
    if request.param == "visitor":
        return visitor_socket
    socket, hello = await sockets("/ws/app/", cookie=operator_cookie)
    return socket


async def test_deep_nesting_is_answered_bad_json_and_the_socket_stays_open(socket):
    await socket.communicator.send_to(text_data=DEEP)
    error = await socket.recv_type("error")
    assert error["code"] == "bad_json"
    await socket.communicator.send_to(text_data='{"type": "send", "body": ' + "[" * 5000 + "]" * 5000 + "}")
    assert (await socket.recv_type("error"))["code"] == "bad_json"
    await socket.send({"type": "ping"})
    assert (await socket.recv())["type"] in {"pong", "error"}  # still answering


async def test_a_crashed_socket_leaves_no_task_running(monkeypatch, settings, visitor_token, sockets):
    settings.PARLEY_SOCKET_GROUP_REFRESH_SECONDS = 0.05
    started: list = []
    consumers_seen: list = []
    original = consumers.ParleySocket.spawn

    def spawn(self, coroutine, *, name):
        task = original(self, coroutine, name=name)
        started.append(task)
        consumers_seen.append(self)
        return task

    async def explode(self, text_data=None, bytes_data=None):
        raise RuntimeError("a handler bug")

    monkeypatch.setattr(consumers.ParleySocket, "spawn", spawn)
    monkeypatch.setattr(consumers.ParleySocket, "receive", explode)
    socket, hello = await sockets(f"/ws/widget/?token={visitor_token}")
    assert hello["type"] == "hello"
    # The upkeep (group re-join, slot renewal) runs in rounds, each armed by a timer at the end of the last.
    for _ in range(100):
        if sum("upkeep" in task.get_name() for task in started) >= 2:
            break
        await asyncio.sleep(0.05)
    assert sum("upkeep" in task.get_name() for task in started) >= 2
    [consumer] = set(consumers_seen)
    with pytest.raises(RuntimeError, match="a handler bug"):
        await socket.communicator.send_to(text_data='{"type": "ping"}')
        await socket.communicator.receive_output(1)
    socket.closed = True
    rounds = len(started)
    await asyncio.sleep(0.2)
    assert len(started) == rounds, "the re-join work outlived its crashed socket"
    assert all(task.done() for task in started)
    assert consumer.socket_timer is None


async def test_sixty_sockets_of_one_visitor_share_one_budget(settings, sockets, visitor_token):
    settings.PARLEY_SOCKETS_PER_VISITOR = 100
    settings.PARLEY_PERSON_FRAME_BURST = 20
    settings.PARLEY_PERSON_FRAMES_PER_SECOND = 0.01
    from apps.core import budgets

    budgets._clients.clear()
    first, hello = await sockets(f"/ws/widget/?token={visitor_token}")
    opened = [first] + [(await sockets(f"/ws/widget/?token={visitor_token}"))[0] for _ in range(59)]
    try:
        for n, socket in enumerate(opened):
            await socket.send({"type": "ping", "ref": f"p{n}"})
        answers = [await socket.recv() for socket in opened]
        limited = [a for a in answers if a.get("type") == "error" and a.get("code") == "rate_limited"]
        assert len(answers) - len(limited) == 20 and len(limited) == 40
    finally:
        # This bucket refills slowly: leave nothing for a later run whose visitor gets the same id.
        await budgets._client().delete(f"parley:budget:v{hello['visitor']}")


async def test_a_visitor_over_the_socket_cap_is_refused_4429(settings, sockets, visitor_token):
    settings.PARLEY_SOCKETS_PER_VISITOR = 3
    for _ in range(3):
        socket, hello = await sockets(f"/ws/widget/?token={visitor_token}")
        assert hello["type"] == "hello"
    socket, first = await sockets(f"/ws/widget/?token={visitor_token}")
    assert first == {"type": "__closed__", "code": 4429}


@pytest.mark.parametrize("attachments", [[{}], [[1]], [{"token": 5}], [None], [1], "abc", {"a": 1}])
async def test_wrong_types_inside_the_attachment_list_are_a_bad_frame_not_a_server_error(visitor_socket, attachments):
    await visitor_socket.send({"type": "send", "client_id": "c1", "body": "x", "attachments": attachments})
    error = await visitor_socket.recv_type("error")
    assert error["code"] in {"bad_frame", "bad_input"}
