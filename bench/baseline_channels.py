"""Baseline 2: a bare Channels relay on the same channel layer as Parley, served by daphne.

    PYTHONPATH=. REDIS_URL=redis://127.0.0.1:6379/0 \\
    CHANNEL_LAYER_BACKEND=channels_redis.pubsub.RedisPubSubChannelLayer \\
        python -m daphne -p PORT bench.baseline_channels:application

Same frames and fake credentials as bench/baseline_ws.py (widget `?token=t<tenant>v<n>`,
operator cookie `sessionid=t<tenant>o<n>`). Operators join the `t<tenant>.ops` group;
a visitor's `send` is acked and group_sent once, pre-serialised, as
`{"type": "deliver", "text": ...}` (the shape Parley's events use), and each operator
consumer forwards `text` as is. No database, no sessions, no throttling: the
difference to Parley is what Parley's own work costs.
"""

from __future__ import annotations

import itertools
import json
import os
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only",
        INSTALLED_APPS=["channels"],
        ALLOWED_HOSTS=["*"],
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": os.environ.get("CHANNEL_LAYER_BACKEND", "channels_redis.pubsub.RedisPubSubChannelLayer"),
                "CONFIG": {
                    "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")],
                    "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "parley"),
                },
            }
        },
    )
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

conversation_ids = itertools.count(1)

if os.environ.get("BENCH_NOHOP"):
    # The experiment of bench/parley_nohop_asgi.py: no per-event close_old_connections hop.
    from channels.consumer import AsyncConsumer, get_handler_name

    async def dispatch_without_hop(self, message):
        await getattr(self, get_handler_name(message))(message)

    AsyncConsumer.dispatch = dispatch_without_hop


def tenant_of(credential: str) -> str:
    return credential.split("v", 1)[0].split("o", 1)[0]


class OperatorRelay(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        cookie = SimpleCookie()
        for name, value in self.scope["headers"]:
            if name == b"cookie":
                cookie.load(value.decode("latin-1"))
        session = cookie["sessionid"].value if "sessionid" in cookie else ""
        self.group = f"{tenant_of(session)}.ops"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data and json.loads(text_data).get("type") == "ping":
            await self.send(text_data='{"type": "pong"}')

    async def deliver(self, event: dict) -> None:
        await self.send(text_data=event["text"])


class VisitorRelay(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        token = parse_qs(self.scope["query_string"].decode()).get("token", [""])[0]
        self.group = f"{tenant_of(token)}.ops"
        self.conversation = next(conversation_ids)
        self.seq = 0
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame = json.loads(text_data or "{}")
        kind = frame.get("type")
        if kind == "send":
            self.seq += 1
            message = {
                "seq": self.seq,
                "client_id": frame["client_id"],
                "author_type": "visitor",
                "body": frame["body"],
            }
            text = json.dumps({"type": "message", "conversation": self.conversation, "message": message})
            await self.channel_layer.group_send(self.group, {"type": "deliver", "text": text})
            await self.send(
                text_data=json.dumps(
                    {"type": "ack", "client_id": frame["client_id"], "conversation": self.conversation, "seq": self.seq}
                )
            )
        elif kind == "typing":
            text = json.dumps(
                {
                    "type": "typing",
                    "conversation": self.conversation,
                    "side": "visitor",
                    "on": frame.get("on", False),
                    "draft": frame.get("draft", ""),
                }
            )
            await self.channel_layer.group_send(self.group, {"type": "deliver", "text": text})
        elif kind == "ping":
            await self.send(text_data='{"type": "pong"}')


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [
                path("ws/widget/", VisitorRelay.as_asgi()),
                path("ws/app/", OperatorRelay.as_asgi()),
            ]
        )
    }
)
