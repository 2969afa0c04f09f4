"""Cut a page's websockets at a chosen moment, as a network drop would, for the browser tests of
the widget and the dashboard (both run static/shared/socket.js against daphne).

Every socket of the browser context goes through Playwright's WebSocket routing to the real
server. Two cuts, each fired once:

- `after_stored(body)`: the server stored the message and answered, and the answer (the `ack`,
  or the message broadcast back) never reaches the page: the outbox must resend it and the
  server must not store it twice.
- `before_server(body)`: the `send` frame never reaches the server: the outbox must resend it.

Playwright's sync API forwards frames only while the test thread is inside a Playwright call:
wait with page waits (`wait`, locators), not `time.sleep`.
"""

from __future__ import annotations

import json
import re
import threading

SOCKET_URL = re.compile(r"/ws/(widget|app)/")
CUT_CODE = 4000  # not 4401/4403: the apps reconnect as after any drop


class SocketCutter:
    def __init__(self, context) -> None:
        self.lock = threading.Lock()
        self.sent: list[dict] = []  # every frame the page sent, over every connection, in order
        self.connections = 0
        self.cuts = 0
        self.rules: list[tuple[str, str]] = []  # (kind, body), each fired once
        self.in_flight: dict[str, str] = {}  # client_id -> body, for `after_stored`
        context.route_web_socket(SOCKET_URL, self._route)

    def after_stored(self, body: str) -> None:
        with self.lock:
            self.rules.append(("after_stored", body))

    def before_server(self, body: str) -> None:
        with self.lock:
            self.rules.append(("before_server", body))

    def sends(self, body: str) -> list[dict]:
        with self.lock:
            return [f for f in self.sent if f.get("type") == "send" and f.get("body") == body]

    def wait_cuts(self, page, count: int, timeout: float = 10.0) -> None:
        waited = 0.0
        while self.cuts < count:
            if waited > timeout:
                raise AssertionError(f"{self.cuts} cuts, expected {count}")
            page.wait_for_timeout(50)  # a Playwright call: frames keep flowing meanwhile
            waited += 0.05

    def _take(self, kind: str, body: str) -> bool:
        with self.lock:
            if (kind, body) in self.rules:
                self.rules.remove((kind, body))
                return True
            return False

    def _route(self, ws) -> None:
        # The page's handler goes in before connecting: connect_to_server() waits on the driver,
        # and a frame the page sends meanwhile would otherwise be forwarded unseen.
        link: dict = {"server": None, "early": [], "cut": False}

        def cut() -> None:
            link["cut"] = True  # whatever was still on its way is lost with the socket
            with self.lock:
                self.cuts += 1
            link["server"].close()
            ws.close(code=CUT_CODE, reason="cut by the test")

        def from_page(message) -> None:
            if link["cut"]:
                return
            if link["server"] is None:
                link["early"].append(message)
                return
            frame = _parse(message)
            with self.lock:
                self.sent.append(frame)
            if frame.get("type") == "send":
                body = frame.get("body")
                if self._take("before_server", body):
                    cut()
                    return
                if self._take("after_stored", body):
                    with self.lock:
                        self.in_flight[frame["client_id"]] = body
            link["server"].send(message)

        def from_server(message) -> None:
            if link["cut"]:
                return
            frame = _parse(message)
            client_id = frame.get("client_id") or (frame.get("message") or {}).get("client_id")
            if frame.get("type") in ("ack", "message") and client_id:
                with self.lock:
                    hit = self.in_flight.pop(client_id, None)
                if hit is not None:
                    cut()
                    return
            ws.send(message)

        ws.on_message(from_page)
        server = ws.connect_to_server()
        server.on_message(from_server)
        with self.lock:
            self.connections += 1
        link["server"] = server
        for message in link.pop("early"):
            from_page(message)


def _parse(message) -> dict:
    try:
        frame = json.loads(message)
    except (TypeError, ValueError):
        return {}
    return frame if isinstance(frame, dict) else {}
