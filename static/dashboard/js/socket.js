// The operator's one websocket (/ws/app/, docs/protocol.md): reconnect with backoff,
// an outbox of unacknowledged messages (kept across reloads), resume by last seq,
// request/answer matching for actions by `ref`, and a heartbeat.

const PING_EVERY = 25000;
const PONG_WITHIN = 10000;
const BACKOFF_MIN = 500;
const BACKOFF_MAX = 30000;

export class OperatorSocket {
  constructor({ path, storageKey, onFrame, onState, resumePoints, onReconnect }) {
    this.path = path;
    this.storageKey = storageKey;
    this.onFrame = onFrame;
    this.onState = onState;
    this.resumePoints = resumePoints;
    this.onReconnect = onReconnect;
    this.ws = null;
    this.attempt = 0;
    this.everOpened = false;
    this.pending = new Map(); // ref -> {resolve, reject, timer}
    this.nextRef = 1;
    this.outbox = this.loadOutbox();
    this.timers = {};
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}${this.path}`;
  }

  connect() {
    clearTimeout(this.timers.retry);
    this.onState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      const reconnect = this.everOpened;
      this.everOpened = true;
      this.onState("online");
      this.resume();
      this.flushOutbox();
      this.heartbeat();
      if (reconnect) this.onReconnect();
    });
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.timers.ping);
      clearTimeout(this.timers.pong);
      for (const [ref, waiter] of this.pending) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error("disconnected"));
        this.pending.delete(ref);
      }
      if (event.code === 4401) {
        window.location.reload(); // the session is gone: the login page takes over
        return;
      }
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** this.attempt);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.attempt += 1;
    this.onState("offline", Math.ceil(delay / 1000));
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  heartbeat() {
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => {
      if (!this.isOpen()) return;
      this.raw({ type: "ping" });
      clearTimeout(this.timers.pong);
      this.timers.pong = setTimeout(() => this.ws?.close(), PONG_WITHIN);
    }, PING_EVERY);
  }

  isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  raw(frame) {
    if (!this.isOpen()) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === "pong") {
      clearTimeout(this.timers.pong);
      return;
    }
    if (frame.type === "ack") this.dropFromOutbox(frame.client_id);
    if ((frame.type === "ok" || frame.type === "error") && frame.ref !== undefined && this.pending.has(String(frame.ref))) {
      const waiter = this.pending.get(String(frame.ref));
      this.pending.delete(String(frame.ref));
      clearTimeout(waiter.timer);
      if (frame.type === "ok") waiter.resolve(frame);
      else waiter.reject(Object.assign(new Error(frame.message || frame.code), { code: frame.code }));
      return;
    }
    if (frame.type === "error" && frame.ref && this.outbox.some((m) => m.client_id === frame.ref)) {
      // A send the server refused for good (closed, not_found, bad_frame) leaves the outbox.
      if (frame.code !== "rate_limited") this.dropFromOutbox(frame.ref);
    }
    this.onFrame(frame);
  }

  // An action (accept, close, transfer, ...): resolves with `ok`, rejects with `error`.
  request(frame, timeout = 10000) {
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

  // Messages go through the outbox: stored first, sent when possible, resent after reconnecting.
  sendMessage(message) {
    this.outbox.push(message);
    this.saveOutbox();
    this.raw({ type: "send", ...message });
  }

  flushOutbox() {
    for (const message of this.outbox) this.raw({ type: "send", ...message });
  }

  dropFromOutbox(clientId) {
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((m) => m.client_id !== clientId);
    if (this.outbox.length !== before) this.saveOutbox();
  }

  resume(points) {
    const conversations = points || this.resumePoints();
    if (Object.keys(conversations).length) this.raw({ type: "resume", conversations });
  }

  loadOutbox() {
    try {
      const saved = JSON.parse(window.localStorage.getItem(this.storageKey) || "[]");
      return Array.isArray(saved) ? saved : [];
    } catch {
      return [];
    }
  }

  saveOutbox() {
    try {
      window.localStorage.setItem(this.storageKey, JSON.stringify(this.outbox));
    } catch {
      // Private mode or a full quota: the in-memory outbox still works for this page.
    }
  }
}

export function newClientId() {
  if (window.crypto?.randomUUID) return window.crypto.randomUUID();
  return `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}
