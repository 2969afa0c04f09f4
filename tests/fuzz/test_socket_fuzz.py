"""Both sockets under hostile frames: every frame gets a documented error frame or a normal
answer, never `server_error`, never a closed socket (1011), and a refused frame changes
nothing in the database.

Frames: any JSON shape (not an object, no or a non-string `type`, unknown types), every
frame type of the side with hostile fields (wrong types, deep nesting, huge and tiny numbers,
lone surrogates as JSON escapes, control characters, oversized strings), plausible frames
with one to three fields replaced (real ids elsewhere, so the hostile value reaches the
service), bare deep nesting and frames over the size limit.

Each fuzzed frame is followed by a marker frame of an unknown type with its own `ref`;
everything up to the marker's `unknown_type` answer is the fuzzed frame's answer (typing and
read answer nothing). Examples: `PARLEY_FUZZ_EXAMPLES` (default 8) times the number of
frame types of the side; `HYPOTHESIS_PROFILE=nightly` for long runs (docs/security.md).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading

import pytest
from django_scopes import scopes_disabled
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.conversations.models import Attachment, Conversation, Message, Visitor
from apps.conversations.sockets import base as consumers
from apps.conversations.sockets.operator import OperatorConsumer
from apps.conversations.sockets.visitor import VisitorConsumer
from tests import factories
from tests.fuzz.strategies import NASTY_TEXT, frames, mutations, raw_json, texts, values
from tests.realtime import conftest as realtime
from tests.realtime.conftest import session_cookie

# The socket tests' fixtures (a live database that the daphne-less sockets share, the
# in-memory channel layer), without making them the HTTP fuzzer's too.
_live_database = realtime._live_database
_tables_to_empty = realtime._tables_to_empty
live_db = realtime.live_db
tenant = realtime.tenant
in_memory_channel_layer = realtime.in_memory_channel_layer

pytestmark = pytest.mark.usefixtures("live_db")

# docs/protocol.md "Error codes", all but server_error: the server failing is never the answer.
DOCUMENTED = {
    "bad_json",
    "bad_frame",
    "too_large",
    "rate_limited",
    "not_found",
    "forbidden",
    "closed",
    "conflict",
    "unknown_type",
}
# Answers a frame may get besides an error (broadcasts of accepted frames are skipped).
NORMAL = {"ack", "message", "resumed", "ok", "pong", "conversation", "read", "typing", "visitor", "presence", "list"}
VISITOR_TYPES = sorted(VisitorConsumer.handlers)
OPERATOR_TYPES = sorted(OperatorConsumer.handlers)
UNKNOWN_TYPES = ["", "SEND", "send ", "__proto__", "constructor", "x" * 300, "\ud800", "accept", "rate"]
MARKER_TYPE = "fuzz.marker"


def _plausible(frame_type: str, ids: dict) -> dict:
    conversation = ids["conversation"]
    return {
        "send": {"client_id": "fuzz-c1", "body": "Hello", "conversation": conversation, "kind": "text"},
        "resume": {"conversations": {str(conversation): 0}},
        "typing": {"conversation": conversation, "on": True, "draft": "Hel"},
        "read": {"conversation": conversation, "seq": 1},
        "rate": {"conversation": conversation, "rating": "good", "comment": "Thanks"},
        "accept": {"conversation": conversation},
        "close": {"conversation": conversation},
        "reopen": {"conversation": conversation},
        "transfer": {"conversation": conversation, "to_operator": ids["colleague"], "note": "Over to you"},
        "ping": {},
    }.get(frame_type, {}) | {"type": frame_type}


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=True)  # lone surrogates travel as \\ud800 escapes


def _frames(types: list[str], ids: dict):
    plausible = st.sampled_from(types).flatmap(
        lambda frame_type: mutations(_plausible(frame_type, ids)).map(lambda frame: {**frame, "type": frame_type})
    )
    wrong_type = st.dictionaries(st.just("type"), st.one_of(values, st.sampled_from(UNKNOWN_TYPES)), max_size=1)
    return st.one_of(
        plausible.map(_dump),
        plausible.map(_dump),  # twice as likely: it gets deepest
        st.sampled_from(types).flatmap(frames),
        st.sampled_from(types).flatmap(
            lambda frame_type: st.fixed_dictionaries({"ref": st.one_of(values, texts)}).map(
                lambda extra: _dump({**_plausible(frame_type, ids), **extra})
            )
        ),
        wrong_type.map(_dump),
        raw_json,
        st.sampled_from(NASTY_TEXT),
        st.integers(min_value=16 * 1024 - 40, max_value=40_000).map(
            lambda n: _dump({"type": "send", "client_id": "fuzz-big", "body": "x" * n})
        ),
    )


def _state() -> tuple:
    """What a refused frame must leave as it was."""
    with scopes_disabled():
        return (
            list(Message.objects.order_by("pk").values_list("pk", "conversation_id", "seq", "body", "kind")),
            list(
                Conversation.objects.order_by("pk").values_list(
                    "pk", "status", "assignee_id", "last_seq", "rating", "rating_comment"
                )
            ),
            list(Visitor.objects.order_by("pk").values_list("pk", "name", "email")),
            list(Attachment.objects.order_by("pk").values_list("pk", "message_id")),
        )


@pytest.fixture
def generous_budgets(monkeypatch, settings):
    # The budgets answer rate_limited (documented) long before the fuzzer is done; lift them so
    # every frame reaches its handler. They have their own tests (tests/realtime/test_hardening.py).
    real_bucket = consumers.TokenBucket
    monkeypatch.setattr(consumers, "TokenBucket", lambda: real_bucket(capacity=10**9, rate=10**9))
    settings.PARLEY_PERSON_FRAME_BURST = 10**9
    settings.PARLEY_PERSON_FRAMES_PER_SECOND = 10**9


@pytest.fixture
def world(tenant):
    with scopes_disabled():
        operator = factories.MembershipFactory(tenant=tenant, role="operator", user__email="op@acme.test")
        colleague = factories.MembershipFactory(tenant=tenant, role="operator", user__email="col@acme.test")
        visitor = factories.VisitorFactory(tenant=tenant)
        conversation = factories.ConversationFactory(tenant=tenant, visitor=visitor)
    return {"operator": operator, "visitor": visitor, "conversation": conversation, "colleague": colleague}


@pytest.fixture
def loop():
    """An event loop in its own thread: Hypothesis drives the socket from a plain test."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="socket fuzz loop", daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def _run(loop, coroutine, timeout: float = 30):
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)


@pytest.fixture(params=["visitor", "operator"])
def socket(request, loop, world, generous_budgets):
    """(side, an open socket of that side) for the whole test: examples share it, as a client would."""
    from channels.testing import WebsocketCommunicator

    from apps.conversations.tokens import visitor_token_issue
    from config.asgi import application

    side = request.param
    headers = [(b"origin", realtime.PARLEY_ORIGIN.encode())]
    if side == "visitor":
        visitor = world["visitor"]
        path = f"/ws/widget/?token={visitor_token_issue(tenant=visitor.tenant, visitor=visitor)}"
    else:
        path = "/ws/app/"
        headers.append((b"cookie", session_cookie(world["operator"].user).encode()))

    async def open_socket():
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        return realtime.Socket(communicator)

    opened = _run(loop, open_socket())
    hello = _run(loop, opened.recv(timeout=10))
    assert hello["type"] == "hello", hello
    yield side, opened
    _run(loop, opened.close())


async def _answer(socket, marker_ref: str) -> list[dict]:
    """Every frame up to the marker's answer (which is left out)."""
    await socket.send({"type": MARKER_TYPE, "ref": marker_ref})
    answer = []
    while True:
        frame = await socket.recv(timeout=10)
        assert frame["type"] != "__closed__", f"the socket closed with {frame.get('code')} after {answer}"
        if frame["type"] == "error" and frame.get("ref") == marker_ref:
            assert frame["code"] == "unknown_type", frame
            return answer
        answer.append(frame)


class _Errors(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def logged_errors():
    handler = _Errors()
    logging.getLogger().addHandler(handler)
    yield handler.records
    logging.getLogger().removeHandler(handler)


_counter = itertools.count()


@settings(max_examples=settings().max_examples * 8)
@given(data=st.data())
def test_every_frame_gets_a_documented_answer_and_a_refused_one_changes_nothing(
    loop, socket, world, logged_errors, data
):
    side, opened = socket
    types = VISITOR_TYPES if side == "visitor" else OPERATOR_TYPES
    ids = {"conversation": world["conversation"].pk, "colleague": world["colleague"].pk}
    text = data.draw(_frames([*types, "nope"], ids), label="frame")
    before = _state()
    # send_input, not send_to: an empty text frame is a frame too.
    _run(loop, opened.communicator.send_input({"type": "websocket.receive", "text": text}))
    answer = _run(loop, _answer(opened, f"marker-{next(_counter)}"))
    errors = [frame for frame in answer if frame["type"] == "error"]
    assert all(frame["code"] in DOCUMENTED for frame in errors), (text[:300], errors)
    assert all(frame["type"] in NORMAL | {"error"} for frame in answer), (text[:300], answer)
    if errors:
        assert _state() == before, (text[:300], errors)
    assert logged_errors == [], [record.getMessage() for record in logged_errors]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("[" * 8000 + "]" * 8000, "bad_json"),
        ("{", "bad_json"),
        ("[]", "bad_frame"),
        ('{"type": 7}', "bad_frame"),
        ('{"type": "nope"}', "unknown_type"),
        (_dump({"type": "send", "client_id": "x", "body": "x" * 20_000}), "too_large"),
        (_dump({"type": "send", "client_id": "a b", "body": "hi"}), "bad_frame"),
        (_dump({"type": "send", "client_id": "ok-1", "body": "hi", "attachments": [{}]}), "bad_frame"),
        (_dump({"type": "read", "conversation": 2**40, "seq": 1}), "not_found"),
    ],
)
def test_known_hostile_frames_get_their_documented_code(loop, socket, text, code):
    # The fuzzer's harness itself: a refused frame's error is what the answer holds.
    side, opened = socket
    before = _state()
    _run(loop, opened.communicator.send_input({"type": "websocket.receive", "text": text}))
    answer = _run(loop, _answer(opened, f"known-{next(_counter)}"))
    assert [frame.get("code") for frame in answer if frame["type"] == "error"] == [code], answer
    assert _state() == before
