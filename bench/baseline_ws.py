"""Baseline 1: a bare `websockets` relay, no Django, no channel layer.

    python bench/baseline_ws.py PORT

Speaks just enough of docs/protocol.md for bench/loadgen.py: a visitor's `send` is
acked and relayed as a `message` frame to every operator socket of its tenant, a
visitor's `typing` is relayed as is (no throttling). Credentials are fake and carry
the tenant: widget `?token=t<tenant>v<n>`, operator cookie `sessionid=t<tenant>o<n>`.
This is the floor: what one Python process pays for the websocket work alone.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sys
from collections import defaultdict
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve

operators: dict[str, set[ServerConnection]] = defaultdict(set)
conversation_ids = itertools.count(1)


def tenant_of(credential: str) -> str:
    return credential.split("v", 1)[0].split("o", 1)[0]


async def operator_socket(ws: ServerConnection, tenant: str) -> None:
    operators[tenant].add(ws)
    try:
        async for raw in ws:
            if json.loads(raw).get("type") == "ping":
                await ws.send('{"type": "pong"}')
    finally:
        operators[tenant].discard(ws)


async def visitor_socket(ws: ServerConnection, tenant: str) -> None:
    conversation = next(conversation_ids)
    seq = 0
    async for raw in ws:
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "send":
            seq += 1
            message = {"seq": seq, "client_id": frame["client_id"], "author_type": "visitor", "body": frame["body"]}
            text = json.dumps({"type": "message", "conversation": conversation, "message": message})
            broadcast(operators[tenant], text)
            await ws.send(
                json.dumps({"type": "ack", "client_id": frame["client_id"], "conversation": conversation, "seq": seq})
            )
        elif kind == "typing":
            broadcast(
                operators[tenant],
                json.dumps(
                    {
                        "type": "typing",
                        "conversation": conversation,
                        "side": "visitor",
                        "on": frame.get("on", False),
                        "draft": frame.get("draft", ""),
                    }
                ),
            )
        elif kind == "ping":
            await ws.send('{"type": "pong"}')


async def handler(ws: ServerConnection) -> None:
    url = urlsplit(ws.request.path)
    if url.path.startswith("/ws/widget/"):
        token = parse_qs(url.query).get("token", [""])[0]
        await visitor_socket(ws, tenant_of(token))
    elif url.path.startswith("/ws/app/"):
        cookie = SimpleCookie(ws.request.headers.get("Cookie", ""))
        session = cookie["sessionid"].value if "sessionid" in cookie else ""
        await operator_socket(ws, tenant_of(session))
    else:
        await ws.close(4404)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None):
        await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
