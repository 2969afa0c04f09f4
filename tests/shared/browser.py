"""What the browser tests share: Chromium, the host page, screenshots, and the widget as a visitor uses it.

`browser` and `host` are fixtures (a pytest plugin, loaded from tests/conftest.py): `host` serves
the snippet from another origin for whatever `parley` the test module defines. Screenshots go to
docs/screenshots/ with PARLEY_SCREENSHOTS=1, else to a temporary folder so a run leaves the work
tree clean. `OperatorSocket` is an operator's /ws/app/ socket read in a background thread.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.processes import CHROMIUM, CHROMIUM_ARGS
from tests.widget.live import ROOT, host_site


def screenshots_dir() -> Path:
    if os.environ.get("PARLEY_SCREENSHOTS") == "1":
        return ROOT / "docs" / "screenshots"
    return Path(tempfile.gettempdir()) / "parley-screenshots"


def shooter(prefix: str) -> Callable[..., None]:
    """`shot(page, name)` writes `<prefix>-<name>.png` (no prefix: `<name>.png`)."""

    def shot(page, name: str) -> None:
        folder = screenshots_dir()
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / (f"{prefix}-{name}.png" if prefix else f"{name}.png")))

    return shot


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set PARLEY_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def host(parley):
    """A site on another origin that carries only the snippet of `parley`'s tenant."""
    with host_site(parley) as url:
        yield url


class OperatorSocket:
    """An operator's dashboard socket: collects every frame in a background thread.

    It opens every chat its lists announce, as the dashboard does when one is clicked
    (`watch`, then `resume` from what it has): message bodies and drafts reach only the
    operators who watch a chat or are its assignee (docs/protocol.md, "Groups").
    """

    def __init__(self, parley):
        from websockets.sync.client import connect

        self.socket = connect(
            parley.ws_url + "/ws/app/",
            origin=parley.base_url,
            additional_headers={"Cookie": f"sessionid={parley.session}"},
            open_timeout=10,
        )
        self.frames: list[dict] = []
        self.watched: set[int] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for text in self.socket:
                frame = json.loads(text)
                with self.lock:
                    self.frames.append(frame)
                self._open_announced(frame)
        except Exception:  # noqa: BLE001, S110 - the socket closed at the end of the test
            pass

    def _open_announced(self, frame: dict) -> None:
        if frame.get("type") == "conversation":
            announced = [frame["conversation"]["id"]]
        elif frame.get("type") == "list":
            announced = [item["id"] for item in frame["conversations"]]
        else:
            return
        for conversation in announced:
            if conversation in self.watched:
                continue
            self.watched.add(conversation)
            with self.lock:
                seen = [
                    f["message"]["seq"]
                    for f in self.frames
                    if f.get("type") == "message" and f["conversation"] == conversation
                ]
            self.send(type="watch", conversation=conversation)
            self.send(type="resume", conversations={str(conversation): max(seen, default=0)})

    def send(self, **frame):
        self.socket.send(json.dumps(frame))

    def wait_for(self, predicate, timeout=10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for frame in self.frames:
                    if predicate(frame):
                        return frame
            time.sleep(0.05)
        with self.lock:
            seen = [f.get("type") for f in self.frames]
        raise AssertionError(f"no matching frame within {timeout}s; saw {seen}")

    def visitor_message(self, body, timeout=10.0) -> dict:
        return self.wait_for(
            lambda f: (
                f.get("type") == "message" and f["message"]["author_type"] == "visitor" and f["message"]["body"] == body
            ),
            timeout,
        )

    def close(self):
        self.socket.close()


def operator_socket(parley):
    """An open operator socket that has had its `hello` (for a fixture to yield and close)."""
    client = OperatorSocket(parley)
    client.wait_for(lambda f: f.get("type") == "hello")
    return client


# The widget, as a visitor uses it.


def launcher_point(page) -> tuple[int, int]:
    size = page.viewport_size
    return size["width"] - 48, size["height"] - 48


def open_widget(page):
    """Click the launcher (inside a closed shadow root, so by position, as a person would)."""
    page.mouse.click(*launcher_point(page))
    return chat_frame(page)


def chat_frame(page, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "/widget/frame/" in frame.url:
                frame.wait_for_load_state()
                return frame
        page.wait_for_timeout(50)  # lets Playwright process the frame events
    raise AssertionError("the chat iframe was not created")


def wait_launcher(page):
    page.wait_for_function("() => document.querySelector('[data-parley]') !== null", timeout=10000)


def start_chat(frame, name="Ann"):
    frame.locator("#pw-pre-name").fill(name)
    frame.locator("#pw-pre-name").press("Enter")
    wait_usable(frame)


def wait_usable(frame):
    frame.wait_for_function(
        "() => document.body.dataset.socket === 'open' && !document.getElementById('pw-input').disabled",
        timeout=10000,
    )


def send(frame, text):
    box = frame.locator("#pw-input")
    box.fill(text)
    box.press("Enter")


def bubble(frame, text):
    return frame.locator(".pw-bubble", has_text=text)
