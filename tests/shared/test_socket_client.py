"""static/shared/socket.js, the one websocket client of the widget and the dashboard, run in
Chromium against a scripted fake WebSocket: outbox and resend with the same client id, resume
from the last seq after a reconnect, ping/pong, actions answered by ref, one backoff, and the
typing throttle's leading edge. The apps' own browser tests run it against daphne."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from tests.processes import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser]

STATIC = Path(__file__).resolve().parents[2] / "static"

# A WebSocket the test drives: open(), receive(frame), close(code); `sent` holds parsed frames.
FAKE = """
class FakeWS {
  static CONNECTING = 0; static OPEN = 1; static CLOSING = 2; static CLOSED = 3;
  static all = [];
  static autoPong = false;
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; this.listeners = {}; FakeWS.all.push(this); }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  emit(type, event) { for (const fn of this.listeners[type] || []) fn(event); }
  open() { this.readyState = 1; this.emit("open", {}); }
  send(text) {
    const frame = JSON.parse(text);
    this.sent.push(frame);
    if (FakeWS.autoPong && frame.type === "ping") setTimeout(() => this.receive({ type: "pong" }), 1);
  }
  receive(frame) { this.emit("message", { data: JSON.stringify(frame) }); }
  close(code = 1006) { if (this.readyState === 3) return; this.readyState = 3; this.emit("close", { code }); }
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const until = async (check, ms = 2000) => {
  const end = Date.now() + ms;
  while (!check()) { if (Date.now() > end) throw new Error("timed out"); await sleep(5); }
};
const m = await import("/shared/socket.js");
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def static_url():
    handler = functools.partial(QuietHandler, directory=str(STATIC))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page(static_url):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set PARLEY_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(static_url + "/shared/")
        yield page
        browser.close()


def run(page, body: str):
    return page.evaluate(f"async () => {{ {FAKE}\n{body} }}")


def test_unacked_messages_are_resent_with_the_same_client_id_after_resuming_from_the_last_seq(page):
    result = run(
        page,
        """
        sessionStorage.clear();
        let last = 3;
        const frames = [];
        const states = [];
        const socket = new m.ParleySocket({
          url: () => "ws://parley.test/ws/app/",
          outbox: { storage: "session", key: "outbox-1" },
          resumePoints: () => ({ 7: last }),
          onFrame: (frame, sent) => frames.push([frame.type, sent && sent.client_id]),
          onState: (state) => states.push(state),
          onOpen: (reconnected) => socket.raw({ type: "subscribe", reconnected }),
          WebSocketImpl: FakeWS,
          timing: { backoffMin: 20, backoffMax: 40 },
        });
        socket.send({ client_id: "a", conversation: 7, body: "written before the socket opened" });
        socket.connect();
        const first = FakeWS.all[0];
        first.open();
        const onOpen = first.sent.slice();
        first.receive({ type: "ack", client_id: "a", conversation: 7, seq: 4, message: { seq: 4, client_id: "a" } });
        last = 4;
        socket.send({ client_id: "b", conversation: 7, body: "lost with the socket" });
        const outboxBeforeDrop = socket.outbox.items.map((item) => item.client_id);
        first.close();
        await until(() => FakeWS.all.length === 2);
        const second = FakeWS.all[1];
        second.open();
        const stored = new m.Outbox("session", "outbox-1").items.map((item) => item.client_id);
        second.receive({ type: "message", conversation: 7, message: { seq: 5, client_id: "b" } });
        return { onOpen, frames, states, outboxBeforeDrop, afterReconnect: second.sent, stored,
                 left: socket.outbox.items.length, firstSentB: first.sent.filter((f) => f.client_id === "b").length };
        """,
    )
    assert result["onOpen"] == [
        {"type": "subscribe", "reconnected": False},  # the app's own frames go first
        {"type": "resume", "conversations": {"7": 3}},
        {"type": "send", "client_id": "a", "conversation": 7, "body": "written before the socket opened"},
    ]
    assert result["firstSentB"] == 1  # sent at once while the socket was open
    assert result["outboxBeforeDrop"] == ["b"]  # "a" left with its ack
    assert result["afterReconnect"] == [
        {"type": "subscribe", "reconnected": True},
        {"type": "resume", "conversations": {"7": 4}},
        {"type": "send", "client_id": "b", "conversation": 7, "body": "lost with the socket"},
    ]
    assert result["stored"] == ["b"]  # a reload would resend it too
    assert result["frames"] == [["ack", "a"], ["message", "b"]]  # the app learns which send settled
    assert result["left"] == 0
    assert result["states"][:3] == ["connecting", "online", "offline"]
    assert result["states"][-2:] == ["connecting", "online"]


def test_the_app_can_stop_reconnecting_on_a_close_code(page):
    result = run(
        page,
        """
        const states = [];
        const socket = new m.ParleySocket({
          url: () => "ws://parley.test/ws/widget/?token=t",
          outbox: { storage: "session", key: "outbox-2" },
          onState: (state) => states.push(state),
          onClose: (event) => event.code !== 4401,
          WebSocketImpl: FakeWS,
          timing: { backoffMin: 10, backoffMax: 10 },
        });
        socket.connect();
        FakeWS.all[0].open();
        FakeWS.all[0].close(4401);
        await sleep(80);
        const sockets = FakeWS.all.length;
        socket.reconnectNow(); // the network comes back: still nothing to do
        return { sockets, after: FakeWS.all.length, states };
        """,
    )
    assert result["sockets"] == 1 and result["after"] == 1
    assert result["states"] == ["connecting", "online", "closed"]


def test_a_silent_socket_is_dropped_after_a_ping_and_a_live_one_is_kept(page):
    result = run(
        page,
        """
        const make = (key) => new m.ParleySocket({
          url: () => "ws://parley.test/ws/app/",
          outbox: { storage: "session", key },
          WebSocketImpl: FakeWS,
          timing: { pingEvery: 30, pongWithin: 30, backoffMin: 2000, backoffMax: 2000 },
        });
        FakeWS.autoPong = true;
        const live = make("outbox-3");
        live.connect();
        FakeWS.all[0].open();
        await sleep(200);
        const liveKept = live.ws === FakeWS.all[0] && live.isOpen();
        const pings = FakeWS.all[0].sent.filter((f) => f.type === "ping").length;
        live.drop();
        FakeWS.autoPong = false;
        const silent = make("outbox-4");
        silent.connect();
        const dead = FakeWS.all[1];
        dead.open();
        await sleep(120);
        return { liveKept, pings, deadDropped: silent.ws === null && dead.readyState === 3 };
        """,
    )
    assert result["liveKept"] and result["pings"] >= 3
    assert result["deadDropped"]


def test_actions_are_answered_by_ref_and_other_errors_reach_the_app(page):
    result = run(
        page,
        """
        const frames = [];
        const socket = new m.ParleySocket({
          url: () => "ws://parley.test/ws/app/",
          outbox: { storage: "session", key: "outbox-5" },
          onFrame: (frame) => frames.push(frame),
          WebSocketImpl: FakeWS,
        });
        const offline = await socket.request({ type: "accept", conversation: 1 }).catch((error) => error.code);
        socket.connect();
        const ws = FakeWS.all[0];
        ws.open();
        const accepted = socket.request({ type: "accept", conversation: 1 });
        const closed = socket.request({ type: "close", conversation: 2 }).catch((error) => error.code);
        const refs = ws.sent.map((f) => f.ref);
        ws.receive({ type: "ok", ref: refs[0], conversation: 1 });
        ws.receive({ type: "error", ref: refs[1], code: "not_found", message: "No such conversation." });
        ws.receive({ type: "error", ref: "some-client-id", code: "closed" });
        return { offline, refs, accepted: (await accepted).conversation, closed: await closed, frames };
        """,
    )
    assert result["offline"] == "offline"
    assert result["refs"] == ["r1", "r2"]
    assert result["accepted"] == 1 and result["closed"] == "not_found"
    assert result["frames"] == [{"type": "error", "ref": "some-client-id", "code": "closed"}]


def test_one_backoff_doubles_from_half_a_second_to_fifteen_with_jitter(page):
    result = run(
        page,
        """
        const at = (attempt, r) => m.backoffDelay(attempt, m.TIMING, () => r);
        return { first: [at(0, 0), at(0, 1)], third: [at(2, 0), at(2, 1)], cap: [at(30, 0), at(30, 1)],
                 frozen: Object.isFrozen(m.TIMING), pong: m.TIMING.pongWithin };
        """,
    )
    assert result["first"] == [250, 500]
    assert result["third"] == [1000, 2000]
    assert result["cap"] == [7500, 15000]
    assert result["frozen"] and result["pong"] == 10000


def test_the_typing_throttle_sends_the_first_keystroke_at_once_and_the_latest_last(page):
    result = run(
        page,
        """
        const fired = [];
        const throttle = new m.Throttle(150, (value) => fired.push(value));
        throttle.push("H");
        const atOnce = fired.slice(); // synchronously: no timer between the keystroke and the frame
        throttle.push("He");
        throttle.push("Hel");
        const held = fired.slice();
        await until(() => fired.length === 2);
        const leadingOnly = [];
        const keepAlive = new m.Throttle(150, (value) => leadingOnly.push(value), { trailing: false });
        keepAlive.push(1);
        keepAlive.push(2);
        await sleep(250);
        keepAlive.push(3);
        const active = keepAlive.active;
        keepAlive.reset();
        keepAlive.push(4);
        return { atOnce, held, fired, leadingOnly, active, resetActive: keepAlive.active };
        """,
    )
    assert result["atOnce"] == ["H"]
    assert result["held"] == ["H"]
    assert result["fired"] == ["H", "Hel"]  # the trailing edge carries the latest draft
    assert result["leadingOnly"] == [1, 3, 4]  # without a trailing edge; reset lets the next go at once
    assert result["active"] and result["resetActive"]


def test_a_refused_send_goes_again_after_a_backoff_when_the_refusal_is_temporary_and_the_app_decides_otherwise(page):
    result = run(
        page,
        """
        sessionStorage.clear();
        let conversation = 7;
        const frames = [];
        const refused = [];
        const socket = new m.ParleySocket({
          url: () => "ws://parley.test/ws/widget/",
          outbox: { storage: "session", key: "outbox-6" },
          sendFrame: (item) => ({ type: "send", client_id: item.client_id, ...(conversation ? { conversation } : {}) }),
          onFrame: (frame, sent) => frames.push([frame.type, frame.code || null, sent && sent.client_id]),
          // The widget's rule: a closed conversation -> the same message starts a new one.
          onRefused: (item, frame) => {
            refused.push([item.client_id, frame.code, socket.outbox.has(item.client_id)]);
            if (frame.code !== "closed") return false;
            conversation = null;
            return true;
          },
          WebSocketImpl: FakeWS,
          timing: { backoffMin: 40, backoffMax: 40 },
        });
        socket.connect();
        const ws = FakeWS.all[0];
        ws.open();
        const sends = (id) => ws.sent.filter((f) => f.type === "send" && f.client_id === id);

        socket.send({ client_id: "busy" });
        ws.receive({ type: "error", code: "rate_limited", ref: "busy" });
        ws.receive({ type: "error", code: "server_error", ref: "busy" }); // one resend is due, not two
        const keptWhileWaiting = socket.outbox.has("busy") && sends("busy").length === 1;
        await until(() => sends("busy").length === 2);
        await sleep(100);
        const busySends = sends("busy").length;
        ws.receive({ type: "ack", client_id: "busy", conversation: 7, seq: 1, message: { seq: 1, client_id: "busy" } });

        socket.send({ client_id: "hostile" });
        ws.receive({ type: "error", code: "bad_frame", ref: "hostile", message: "Invalid frame." });
        socket.send({ client_id: "late" });
        ws.receive({ type: "error", code: "closed", ref: "late" });
        const late = sends("late");
        ws.receive({ type: "error", code: "closed", ref: "not-ours" }); // no outbox item: the app's business

        // A resend that is due when the socket drops is not lost: the next open flushes.
        socket.send({ client_id: "dropped" });
        ws.receive({ type: "error", code: "rate_limited", ref: "dropped" });
        ws.close();
        await until(() => FakeWS.all.length === 2);
        FakeWS.all[1].open();
        const afterReconnect = FakeWS.all[1].sent.filter((f) => f.type === "send").map((f) => f.client_id);
        return { keptWhileWaiting, busySends, refused, late, frames, afterReconnect,
                 outbox: socket.outbox.items.map((item) => item.client_id) };
        """,
    )
    assert result["keptWhileWaiting"]
    assert result["busySends"] == 2  # resent once, with the same client id, after the backoff
    assert result["refused"] == [["hostile", "bad_frame", True], ["late", "closed", True]]
    assert result["late"] == [
        {"type": "send", "client_id": "late", "conversation": 7},
        {"type": "send", "client_id": "late"},  # sendFrame asked afresh: into a new conversation
    ]
    assert result["frames"][:5] == [
        ["error", "rate_limited", "busy"],
        ["error", "server_error", "busy"],
        ["ack", None, "busy"],
        ["error", "bad_frame", "hostile"],
        ["error", "closed", "late"],
    ]
    assert result["frames"][5] == ["error", "closed", None]
    assert result["afterReconnect"] == ["late", "dropped"]
    assert result["outbox"] == ["late", "dropped"]  # "hostile" left for good; the others await their ack


def test_two_tabs_sharing_an_outbox_never_write_each_others_unsent_messages_away(page):
    result = run(
        page,
        """
        const key = "outbox-shared-by-tabs";
        localStorage.removeItem(key);
        const stored = () => JSON.parse(localStorage.getItem(key) || "[]").map((item) => item.client_id);
        const tabA = new m.Outbox("local", key);
        const tabB = new m.Outbox("local", key);
        tabA.add({ client_id: "x" });
        tabB.add({ client_id: "y" }); // B never saw x
        const both = stored();
        tabA.take("x"); // acked in A
        const afterAck = stored();
        tabB.add({ client_id: "z" }); // B still has no x to bring back
        const afterB = stored();
        const reloaded = new m.Outbox("local", key).items.map((item) => item.client_id);
        return { both, afterAck, afterB, reloaded, memoryA: tabA.items.length, memoryB: tabB.items.length };
        """,
    )
    assert result["both"] == ["x", "y"]
    assert result["afterAck"] == ["y"]
    assert result["afterB"] == ["y", "z"]
    assert result["reloaded"] == ["y", "z"]  # a reloaded tab resends what the others have not settled
    assert result["memoryA"] == 0 and result["memoryB"] == 2
