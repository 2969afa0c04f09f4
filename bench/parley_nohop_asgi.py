"""Parley's ASGI application with one experiment applied: no per-event database-thread hop.

    .venv/bin/python bench/realtime.py --targets channels,parley --variant nohop

Channels 4.2+ calls `aclose_old_connections()` in `AsyncConsumer.dispatch` before EVERY
event handler: a `sync_to_async` (thread-sensitive) hop onto the one thread that also runs
all of the process's database work. So each `deliver` to each operator socket and each
typing frame waits in that thread's queue behind message transactions. Parley's database
work all goes through `database_sync_to_async`, which closes stale connections itself,
so the hop buys nothing. This module measures what removing it would be worth; the real
change belongs in `apps/conversations/sockets/base.py` (override `dispatch` on the socket
base class), not here.
"""

from __future__ import annotations

from channels.consumer import AsyncConsumer, get_handler_name

from config.asgi import application  # noqa: F401  (the app under test)


async def dispatch_without_hop(self, message):
    handler = getattr(self, get_handler_name(message), None)
    if handler is None:
        raise ValueError(f"No handler for message type {message['type']}")
    await handler(message)


AsyncConsumer.dispatch = dispatch_without_hop
