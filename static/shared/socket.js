// The one websocket client of Parley's browser apps: the widget (/ws/widget/) and the
// dashboard (/ws/app/) both speak docs/protocol.md through it. It reconnects with one
// backoff, detects a dead socket by ping/pong, keeps an outbox of unacknowledged messages
// (idempotent on their client id, resent after every reconnect), resumes every open
// conversation from the last seq it saw, and matches actions to their answers by `ref`.
// What a frame means is the app's business (onFrame); no DOM, no strings here.

// One set of timings for both apps (ms). Tests may pass `timing` to shrink them; apps do not.
export const TIMING = Object.freeze({
  backoffMin: 500, // first retry after 250-500 ms
  backoffMax: 15000, // the longest wait between two attempts (jittered down to half)
  connectWithin: 10000, // a handshake that hangs (captive portal, dead proxy) is given up
  pingEvery: 25000,
  pongWithin: 10000, // silence after a ping: the socket is dead even if the browser has not noticed
  requestWithin: 10000, // an action without an answer rejects with `timeout`
});

// Refusals of a `send` that are about the moment, not the message (docs/protocol.md, "Error
// codes"): the message stays in the outbox and goes again after a backoff. Any other refusal
// is final unless the app's onRefused says to send it again (the widget after a `closed`).
export const RESEND_ON = Object.freeze(["rate_limited", "server_error"]);

// Full jitter on the upper half: attempt 0 -> 250-500 ms, ..., capped at backoffMax.
export function backoffDelay(attempt, timing = TIMING, random = Math.random) {
  const base = Math.min(timing.backoffMax, timing.backoffMin * 2 ** attempt);
  return Math.round(base / 2 + (random() * base) / 2);
}

export function newClientId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

// Messages waiting for their `ack`, kept in web storage so a reload does not lose them.
// Storage may be blocked (a third-party frame, private mode): then it lives in memory.
// Tabs of one app may share a key (the dashboard's outbox is in localStorage): a page writes
// its own items and keeps the others' it finds stored, so no tab writes another's unsent
// messages away; what was stored when a page loaded is that page's to send.
export class Outbox {
  constructor(storage, key) {
    this.storage = storage; // "local" or "session"
    this.key = key;
    this.items = this.load();
    this.taken = new Set(); // client ids this page settled: never kept from storage again
  }

  store() {
    try {
      return this.storage === "session" ? window.sessionStorage : window.localStorage;
    } catch {
      return null;
    }
  }

  load() {
    try {
      const saved = JSON.parse(this.store()?.getItem(this.key) || "[]");
      return Array.isArray(saved) ? saved : [];
    } catch {
      return [];
    }
  }

  save() {
    try {
      const store = this.store();
      if (!store) return;
      const mine = new Set(this.items.map((item) => item.client_id));
      const others = this.load().filter((item) => !mine.has(item.client_id) && !this.taken.has(item.client_id));
      store.setItem(this.key, JSON.stringify([...others, ...this.items]));
    } catch {
      // A full quota: the in-memory outbox still works for this page.
    }
  }

  add(item) {
    this.items.push(item);
    this.save();
  }

  has(clientId) {
    return this.items.some((item) => item.client_id === clientId);
  }

  get(clientId) {
    return this.items.find((item) => item.client_id === clientId);
  }

  // Removes and returns the item with this client id (null when there is none).
  take(clientId) {
    const item = this.get(clientId);
    if (!item) return null;
    this.items = this.items.filter((other) => other !== item);
    this.taken.add(clientId);
    this.save();
    return item;
  }
}

export class ParleySocket {
  // url: () => the websocket URL, or null while there is nothing to connect with (no token yet).
  // outbox: {storage: "local" | "session", key}.
  // sendFrame: (item) => the `send` frame for an outbox item (default: {type: "send", ...item}).
  // resumePoints: () => {conversation id: last contiguous seq seen}.
  // onFrame(frame, sent): sent = the outbox item an ack, echo or error just settled, if any.
  // onRefused(item, frame): the server refused a message for good (a code not in RESEND_ON);
  //   return true to keep it and send it again now (sendFrame is asked afresh), else it leaves
  //   the outbox (the app shows it failed). Called before onFrame gets the error.
  // onState(state, retryInSeconds).
  // onOpen(reconnected): on every open, before `resume` and the outbox; frames it sends go first.
  // onClose(event): return false to stop reconnecting (an expired session, a refused origin).
  constructor({
    url,
    outbox,
    sendFrame,
    resumePoints,
    onFrame,
    onRefused,
    onState,
    onOpen,
    onClose,
    timing,
    WebSocketImpl,
  }) {
    this.url = url;
    this.outbox = new Outbox(outbox.storage, outbox.key);
    this.sendFrame = sendFrame || ((item) => ({ type: "send", ...item }));
    this.resumePoints = resumePoints || (() => ({}));
    this.onFrame = onFrame || (() => {});
    this.onRefused = onRefused || (() => false);
    this.onState = onState || (() => {});
    this.onOpen = onOpen || (() => {});
    this.onClose = onClose || (() => true);
    this.timing = { ...TIMING, ...(timing || {}) };
    this.WebSocket = WebSocketImpl || window.WebSocket;
    this.ws = null;
    this.attempt = 0;
    this.resends = 0; // refusals in RESEND_ON since the last ack: the resend backoff's attempt
    this.everOpened = false;
    this.wanted = false; // connect() was called and no close handler said stop
    this.pending = new Map(); // ref -> {resolve, reject, timer}
    this.nextRef = 1;
    this.timers = {};
  }

  // ------------------------------------------------------------------ connection

  connect() {
    if (this.ws && this.ws.readyState <= this.WebSocket.OPEN) return; // connecting or open
    const url = this.url();
    if (!url) return;
    this.wanted = true;
    clearTimeout(this.timers.retry);
    this.onState("connecting");
    let ws;
    try {
      ws = new this.WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    const giveUp = setTimeout(() => {
      if (this.ws === ws && ws.readyState === this.WebSocket.CONNECTING) {
        this.drop();
        this.scheduleReconnect();
      }
    }, this.timing.connectWithin);
    ws.addEventListener("open", () => {
      clearTimeout(giveUp);
      if (this.ws !== ws) return;
      this.attempt = 0;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.onState("online");
      // The app's own frames first (a subscription, say), so that the replay and the resent
      // outbox come after whatever they depend on.
      this.onOpen(reconnected);
      this.resume();
      this.flushOutbox();
      this.heartbeat();
    });
    ws.addEventListener("message", (event) => {
      if (this.ws === ws) this.receive(event.data);
    });
    ws.addEventListener("close", (event) => {
      clearTimeout(giveUp);
      if (this.ws !== ws) return;
      this.detach();
      if (this.onClose(event) === false) {
        this.wanted = false;
        this.onState("closed");
        return;
      }
      this.scheduleReconnect();
    });
  }

  // Forget the current socket (closing it quietly): its close event no longer counts.
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.detach();
    try {
      ws.close();
    } catch {
      // already closed
    }
  }

  detach() {
    this.ws = null;
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.resend); // the next open flushes the outbox anyway
    this.timers.resend = null;
    this.alive();
    for (const [ref, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(Object.assign(new Error("disconnected"), { code: "disconnected" }));
      this.pending.delete(ref);
    }
  }

  scheduleReconnect() {
    clearTimeout(this.timers.retry);
    const delay = backoffDelay(this.attempt, this.timing);
    this.attempt = Math.min(this.attempt + 1, 16);
    this.onState("offline", Math.ceil(delay / 1000));
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  // The network came back or the tab became visible: check an open socket with a ping,
  // otherwise try again now instead of waiting out the backoff.
  reconnectNow() {
    if (!this.wanted) return;
    if (this.isOpen()) {
      this.ping();
      return;
    }
    if (this.ws && this.ws.readyState === this.WebSocket.CONNECTING) return; // already trying
    this.attempt = 0;
    this.drop();
    this.connect();
  }

  // The browser says the network is gone: stop trusting the socket at once.
  wentOffline() {
    if (!this.wanted) return;
    this.drop();
    this.scheduleReconnect();
  }

  // Network and visibility events of the page drive reconnects (call once).
  watchPage() {
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => this.wentOffline());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
  }

  heartbeat() {
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => this.ping(), this.timing.pingEvery);
  }

  ping() {
    if (!this.raw({ type: "ping" })) return;
    if (this.timers.pong) return; // an earlier ping is still unanswered: its deadline stands
    this.timers.pong = setTimeout(() => {
      this.timers.pong = null;
      this.drop();
      this.scheduleReconnect();
    }, this.timing.pongWithin);
  }

  alive() {
    clearTimeout(this.timers.pong);
    this.timers.pong = null;
  }

  isOpen() {
    return this.ws !== null && this.ws.readyState === this.WebSocket.OPEN;
  }

  raw(frame) {
    if (!this.isOpen()) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // ------------------------------------------------------------------ frames in

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    this.alive(); // any frame proves the socket alive
    if (frame.type === "pong") return;
    // An ack, or a message of ours broadcast back, means it is stored: it leaves the outbox.
    let sent = null;
    if (frame.type === "ack") sent = this.outbox.take(frame.client_id);
    else if (frame.type === "message" && frame.message?.client_id) sent = this.outbox.take(frame.message.client_id);
    if (sent) this.resends = 0;
    const ref = frame.ref === undefined || frame.ref === null ? null : String(frame.ref);
    if ((frame.type === "ok" || frame.type === "error") && ref !== null && this.pending.has(ref)) {
      const waiter = this.pending.get(ref);
      this.pending.delete(ref);
      clearTimeout(waiter.timer);
      if (frame.type === "ok") waiter.resolve(frame);
      else waiter.reject(Object.assign(new Error(frame.message || frame.code), { code: frame.code }));
      return;
    }
    // A refused send echoes its client id as `ref`.
    if (frame.type === "error" && ref !== null && this.outbox.has(ref)) sent = this.refused(ref, frame);
    this.onFrame(frame, sent);
  }

  // The one rule for a refused message, for both apps: RESEND_ON -> again after a backoff;
  // otherwise the app decides (onRefused), and by default the message leaves the outbox.
  refused(clientId, frame) {
    const item = this.outbox.get(clientId);
    if (RESEND_ON.includes(frame.code)) {
      this.resendLater();
    } else if (this.onRefused(item, frame) === true) {
      this.raw(this.sendFrame(item));
    } else {
      this.outbox.take(clientId);
    }
    return item;
  }

  resendLater() {
    if (this.timers.resend) return; // one resend of the whole outbox is already due
    const delay = backoffDelay(this.resends, this.timing);
    this.resends = Math.min(this.resends + 1, 16);
    this.timers.resend = setTimeout(() => {
      this.timers.resend = null;
      this.flushOutbox();
    }, delay);
  }

  // ------------------------------------------------------------------ frames out

  // An action (accept, close, transfer, ...): resolves with `ok`, rejects with `error`.
  request(frame, timeout = this.timing.requestWithin) {
    return new Promise((resolve, reject) => {
      if (!this.isOpen()) {
        reject(Object.assign(new Error("offline"), { code: "offline" }));
        return;
      }
      const ref = `r${this.nextRef++}`;
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(Object.assign(new Error("timeout"), { code: "timeout" }));
      }, timeout);
      this.pending.set(ref, { resolve, reject, timer });
      this.raw({ ...frame, ref });
    });
  }

  // A message: stored first, sent when possible, resent with the same client id after every
  // reconnect until the server acknowledges it (the server stores a client id once).
  send(item) {
    this.outbox.add(item);
    if (!this.raw(this.sendFrame(item))) this.reconnectNow();
  }

  flushOutbox() {
    for (const item of this.outbox.items) if (!this.raw(this.sendFrame(item))) return;
  }

  resume(points) {
    const conversations = points || this.resumePoints();
    if (conversations && Object.keys(conversations).length) this.raw({ type: "resume", conversations });
  }
}

// The typing throttle: the first call goes out at once (the other side sees typing start
// without waiting), then at most one call per `every` ms; a call inside the interval is
// held and the latest one goes out when the interval ends (unless `trailing` is false).
export class Throttle {
  constructor(every, fire, { trailing = true } = {}) {
    this.every = every;
    this.fire = fire;
    this.trailing = trailing;
    this.sentAt = -Infinity;
    this.timer = null;
    this.value = undefined;
  }

  push(value) {
    this.value = value;
    const wait = this.sentAt + this.every - Date.now();
    if (wait <= 0) {
      this.flush();
    } else if (this.trailing && this.timer === null) {
      this.timer = setTimeout(() => this.flush(), wait);
    }
  }

  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    this.sentAt = Date.now();
    this.fire(this.value);
  }

  // Drop a held call and start afresh: the next push goes out at once.
  reset() {
    clearTimeout(this.timer);
    this.timer = null;
    this.sentAt = -Infinity;
  }

  get active() {
    return this.sentAt !== -Infinity;
  }
}
