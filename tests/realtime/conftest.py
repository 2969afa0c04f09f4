"""Socket tests: Channels' WebsocketCommunicator on the real ASGI application, an in-memory layer.

The consumers reach the database from worker threads and services publish on commit, so
these tests need committed rows: `live_db` (instead of pytest-django's rolled-back `db`)
commits for real and empties the written tables with DELETE afterwards. That is what
`django_db(transaction=True)` does too, but its TRUNCATE of every table costs about two
seconds per test on a busy PostgreSQL; DELETE of a few rows costs milliseconds.
"""

from __future__ import annotations

import asyncio
import json
from importlib import import_module

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.db import connection, transaction
from django_scopes import scopes_disabled

from apps.conversations.tokens import visitor_token_issue
from tests import factories

PARLEY_ORIGIN = "http://localhost:8000"
RECEIVE_TIMEOUT = 5


def _is_test_database() -> bool:
    name = str(connection.settings_dict["NAME"])
    return name.startswith("test_") or "memorydb" in name or name == ":memory:"


@pytest.fixture(scope="session")
def _live_database(django_db_setup, django_db_blocker):
    """The test database, even in a run where no test asked pytest-django for one.

    pytest-django creates it only for runs with a test that uses `db` or `django_db`, and
    `live_db` is neither.
    """
    from django.test.utils import setup_databases, teardown_databases

    created = None
    if not _is_test_database():
        with django_db_blocker.unblock():
            created = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    assert _is_test_database(), connection.settings_dict["NAME"]
    yield
    if created is not None:
        with django_db_blocker.unblock():
            teardown_databases(created, verbosity=0)


@pytest.fixture(scope="session")
def _tables_to_empty(_live_database, django_db_blocker) -> list[str]:
    """Every table that is empty right after migrating (content types, permissions and the like are kept)."""
    with django_db_blocker.unblock():
        tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
        empty = []
        with connection.cursor() as cursor:
            for table in sorted(tables):
                cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")  # noqa: S608
                if cursor.fetchone() is None:
                    empty.append(table)
    assert empty, "no tables found: is this the test database?"
    return empty


def _close_worker_connections() -> None:
    """Close what the consumers' database thread holds open: the test database must be droppable at the end.

    `database_sync_to_async` closes its connection after each call, but a call still in
    flight when a test's event loop ends (a socket closed by the server) can leave one open.
    """
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


@pytest.fixture
def live_db(_tables_to_empty, django_db_blocker):
    """A database whose writes commit (seen by the consumers' threads); emptied again after the test."""
    with django_db_blocker.unblock():
        yield
        _close_worker_connections()
        assert _is_test_database(), connection.settings_dict["NAME"]  # never empty a real database
        # Django's foreign keys are deferrable: inside one transaction the order of deletes does not matter.
        # scopes_disabled(): on PostgreSQL, the role that may cross tenants (row-level security).
        with scopes_disabled(), transaction.atomic(), connection.cursor() as cursor:
            for table in _tables_to_empty:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608


@pytest.fixture
def tenant(live_db):
    with scopes_disabled():
        return factories.TenantFactory(name="Acme", slug="acme")


@pytest.fixture
def other_tenant(live_db):
    with scopes_disabled():
        return factories.TenantFactory(name="Globex", slug="globex")


@pytest.fixture(autouse=True)
def in_memory_channel_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.PARLEY_BASE_URL = PARLEY_ORIGIN
    # Factories hash a password per user; the default hasher costs ~0.3 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def quick_revalidation(monkeypatch):
    """Sockets opened after this fixture re-check their credentials every 0.1 s instead of every minute."""
    from apps.conversations.sockets import base

    monkeypatch.setattr(base, "REVALIDATE_SECONDS", 0.1)


def session_cookie(user) -> str:
    """A logged-in session for `user`, as `django.contrib.auth.login` leaves it."""
    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class Socket:
    """A communicator that speaks JSON frames."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.closed = False

    async def send(self, frame) -> None:
        await self.communicator.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = RECEIVE_TIMEOUT) -> dict:
        output = await self.communicator.receive_output(timeout)
        if output["type"] == "websocket.close":
            self.closed = True
            return {"type": "__closed__", "code": output.get("code")}
        return json.loads(output["text"])

    async def recv_type(self, *types: str, timeout: float = RECEIVE_TIMEOUT) -> dict:
        """The next frame of one of `types`, skipping others (conversation events, system lines...)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            if frame["type"] in types or frame["type"] == "__closed__":
                return frame

    async def until(self, *types: str, count: int = 1, timeout: float = RECEIVE_TIMEOUT) -> list[dict]:
        """Every frame up to and including the `count`-th one of `types` (fails if it never comes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        frames: list[dict] = []
        seen = 0
        while seen < count:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            frames.append(frame)
            assert frame["type"] != "__closed__", frames
            seen += frame["type"] in types
        return frames

    async def drain(self, timeout: float = 0.3) -> list[dict]:
        """Everything that arrives within `timeout`."""
        frames = []
        while not await self.communicator.receive_nothing(timeout):
            frame = await self.recv()
            frames.append(frame)
            if frame["type"] == "__closed__":
                break
        return frames

    async def watch(self, conversation_id: int) -> None:
        """What the dashboard does when it opens a chat: its bodies, drafts and receipts come to this socket."""
        await self.send({"type": "watch", "conversation": conversation_id, "ref": "watch"})
        reply = await self.recv_type("ok", "error")
        assert reply == {"type": "ok", "action": "watch", "conversation": conversation_id, "ref": "watch"}, reply

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.communicator.disconnect()


@pytest.fixture
async def sockets(live_db):
    """`await sockets(path, origin=..., cookie=...)` -> (Socket, first frame); all closed at teardown."""
    from config.asgi import application

    opened: list[Socket] = []

    async def open_socket(path: str, *, origin: str | None = PARLEY_ORIGIN, cookie: str | None = None):
        headers = []
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        if cookie is not None:
            headers.append((b"cookie", cookie.encode()))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect(timeout=RECEIVE_TIMEOUT)
        assert connected
        socket = Socket(communicator)
        opened.append(socket)
        return socket, await socket.recv()

    yield open_socket
    for socket in opened:
        await socket.close()


@pytest.fixture
def visitor_token(tenant, visitor) -> str:
    return visitor_token_issue(tenant=tenant, visitor=visitor)


@pytest.fixture
async def visitor_socket(sockets, visitor_token):
    socket, hello = await sockets(f"/ws/widget/?token={visitor_token}")
    assert hello["type"] == "hello", hello
    return socket


@pytest.fixture
def operator_cookie(operator) -> str:
    return session_cookie(operator.user)


@pytest.fixture
async def operator_socket(sockets, operator_cookie):
    socket, hello = await sockets("/ws/app/", cookie=operator_cookie)
    assert hello["type"] == "hello", hello
    return socket


@database_sync_to_async
def stored_messages(conversation_id: int) -> list[tuple[int, str, str, str]]:
    """(seq, kind, author_type, body) of every stored message, in order."""
    from apps.conversations.models import Message

    with scopes_disabled():
        return list(
            Message.objects.filter(conversation_id=conversation_id)
            .order_by("seq")
            .values_list("seq", "kind", "author_type", "body")
        )
