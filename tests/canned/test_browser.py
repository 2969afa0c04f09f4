"""Canned replies in the dashboard's reply box, in Chromium against Parley under daphne.

The operator types `/del`, picks "Delivery times" with the keyboard, edits one word and
sends: the visitor's socket receives the filled, edited text. Then the operator puts
"Greeting" on Alt+1 in the canned-replies dialog, the `?` help lists it, and Alt+1 sends it.
With two tabs open, a hotkey chosen in one is what Alt+1 sends in the other (`canned.changed`).
"""

from __future__ import annotations

import json
import time

import pytest

from tests.dashboard.live import LiveParley

# The dashboard browser test's Chromium fixture.
from tests.dashboard.test_browser import browser  # noqa: F401

from .live_seed import seed_canned

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_sync = pytest.importorskip("playwright.sync_api")
ws_sync = pytest.importorskip("websockets.sync.client")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = LiveParley(tmp_path_factory.mktemp("canned-live"))
    server.canned = seed_canned(server, "en")
    yield server
    server.stop()


def visitor_frames(ws, predicate, timeout=6.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        except TimeoutError:
            break
        seen.append(frame)
        if predicate(frame):
            return frame
    raise AssertionError(f"the visitor did not get the frame; got {seen[-5:]}")


def test_slash_pick_edit_send_and_the_alt_1_hotkey(live, browser):  # noqa: F811 (the imported fixture)
    operator = live.seed["operators"][0]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    live.login(page, operator["email"])
    ws = ws_sync.connect(
        f"ws://127.0.0.1:{live.port}/ws/widget/?token={live.seed['token']}", origin=live.base_url, open_timeout=5
    )
    try:
        ws.send(json.dumps({"type": "send", "client_id": "v-canned-1", "body": "When will my boots arrive?"}))
        conversation = visitor_frames(ws, lambda f: f["type"] == "ack")["conversation"]
        page.wait_for_selector(f'#conv-list .conv[data-id="{conversation}"]', timeout=5000)
        page.click(f'#conv-list .conv[data-id="{conversation}"]')
        page.locator("body").press("a")
        page.wait_for_selector("#chat-status.status-open", timeout=5000)

        # "/del": "Shipping delays" (/delays, used more) comes first, then "Delivery times" (/delivery).
        page.click("#reply")
        page.keyboard.type("/del")
        page.wait_for_selector("#canned-suggestions .canned-option", timeout=3000)
        titles = page.locator("#canned-suggestions .canned-title").all_inner_texts()
        assert titles[:2] == ["Shipping delays", "Delivery times"]
        page.keyboard.press("ArrowDown")
        selected = page.locator('#canned-suggestions [aria-selected="true"] .canned-title').inner_text()
        assert selected == "Delivery times"
        page.keyboard.press("Enter")
        expected = f"Hi there, orders to your city take 2-5 business days. {operator['name']}, Acme Shoes"
        page.wait_for_function("(text) => document.querySelector('#reply').value === text", arg=expected, timeout=3000)
        assert page.locator("#canned-suggestions").is_hidden()

        # Edit one word, then send through the normal path.
        page.evaluate(
            """() => {
                const box = document.querySelector('#reply');
                const at = box.value.indexOf('business');
                box.focus();
                box.setSelectionRange(at, at + 'business'.length);
            }"""
        )
        page.keyboard.type("working")
        page.keyboard.press("Enter")
        edited = expected.replace("business", "working")
        got = visitor_frames(ws, lambda f: f["type"] == "message" and f["message"]["author_type"] == "operator")
        assert got["message"]["body"] == edited
        page.wait_for_selector(f".msg-operator:has-text('{edited[:30]}'):not(.msg-pending)", timeout=3000)

        # Put "Greeting" on Alt+1 in the dialog; the help overlay lists it.
        page.click("#canned-open")
        page.wait_for_selector("#canned-dialog[open] .canned-row", timeout=3000)
        row = page.locator("#canned-browse .canned-row", has_text="Greeting")
        with page.expect_response(lambda r: r.url.endswith("/app/api/canned/hotkeys") and r.request.method == "POST"):
            row.locator("select.canned-hotkey").select_option("1")
        page.keyboard.press("Escape")
        page.wait_for_selector("#canned-dialog:not([open])", state="attached")
        page.locator("body").press("?")
        page.wait_for_selector("#help-dialog[open]")
        assert "Greeting" in page.locator("#help-dialog .canned-help").all_inner_texts()[-1]
        page.keyboard.press("Escape")

        # Alt+1 sends the greeting at once; a draft in the reply box stays.
        page.click("#reply")
        page.keyboard.type("draft stays")
        page.keyboard.press("Alt+1")
        got = visitor_frames(ws, lambda f: f["type"] == "message" and f["message"]["author_type"] == "operator")
        assert got["message"]["body"] == f"Hello there! My name is {operator['name']}. How can I help you?"
        page.wait_for_function("() => document.querySelector('#reply').value === 'draft stays'", timeout=3000)
        assert errors == []
    finally:
        ws.close()
        context.close()


def open_conversation(page, conversation: int) -> None:
    """Open the visitor's conversation from the queue (a new one) or from all open ones (the earlier
    test's, which this operator took)."""
    item = f'#conv-list .conv[data-id="{conversation}"]'
    for box in ("queued", "open"):
        page.click(f'.boxes [data-box="{box}"]')
        try:
            page.wait_for_selector(item, timeout=3000)
            break
        except playwright_sync.TimeoutError:
            continue
    page.click(item)
    if box == "queued":
        page.locator("body").press("a")
    page.wait_for_selector("#chat-status.status-open", timeout=5000)


def choose_alt_1(page, title: str) -> None:
    """In the canned-replies dialog, put the reply `title` on Alt+1."""
    page.click("#canned-open")
    page.wait_for_selector("#canned-dialog[open] .canned-row", timeout=3000)
    row = page.locator("#canned-browse .canned-row", has_text=title)
    with page.expect_response(lambda r: r.url.endswith("/app/api/canned/hotkeys") and r.request.method == "POST"):
        row.locator("select.canned-hotkey").select_option("1")
    page.keyboard.press("Escape")
    page.wait_for_selector("#canned-dialog:not([open])", state="attached")


def test_a_hotkey_chosen_in_one_tab_is_what_alt_1_sends_in_the_other(live, browser):  # noqa: F811
    operator = live.seed["operators"][0]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    first, second = context.new_page(), context.new_page()
    errors: list[str] = []
    for page in (first, second):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    live.login(first, operator["email"])
    second.goto(f"{live.base_url}/app/")
    second.wait_for_selector('#conn[data-state="online"]', state="attached", timeout=10000)
    ws = ws_sync.connect(
        f"ws://127.0.0.1:{live.port}/ws/widget/?token={live.seed['token']}", origin=live.base_url, open_timeout=5
    )
    try:
        ws.send(json.dumps({"type": "send", "client_id": "v-canned-tabs", "body": "Is my parcel on its way?"}))
        conversation = visitor_frames(ws, lambda f: f["type"] == "ack")["conversation"]
        first.bring_to_front()
        open_conversation(first, conversation)
        second.bring_to_front()
        open_conversation(second, conversation)

        for title, text in [
            ("One moment", "One moment, please: I am checking this for you."),
            ("Still checking", "Thank you for waiting! I need a couple more minutes to find the answer."),
        ]:
            # The choice is made in the first tab; the second reloads its hotkeys when it hears of it.
            first.bring_to_front()
            with second.expect_response(
                lambda r: r.url.endswith("/app/api/canned/hotkeys") and r.request.method == "GET", timeout=5000
            ):
                choose_alt_1(first, title)
            second.bring_to_front()
            second.click("#reply")
            second.keyboard.press("Alt+1")
            got = visitor_frames(ws, lambda f: f["type"] == "message" and f["message"]["author_type"] == "operator")
            assert got["message"]["body"] == text
            second.evaluate("() => document.activeElement && document.activeElement.blur()")
            second.locator("body").press("?")
            second.wait_for_selector("#help-dialog[open]")
            assert title in second.locator("#help-dialog .canned-help").all_inner_texts()[-1]
            second.keyboard.press("Escape")
        assert errors == []
    finally:
        ws.close()
        context.close()
