// Parley chat iframe: the visitor's side of docs/protocol.md.
// Every text from the network is inserted with textContent, never as HTML.

const boot = JSON.parse(document.getElementById("parley-boot").textContent);
const cfg = boot.config;
const S = boot.strings;
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const hostOrigin = params.get("host") || "";
const embedded = window.parent !== window;
const REPLAY_LIMIT = 500; // the server's page size for a resume

document.documentElement.style.setProperty("--pw-c", cfg.colour);
document.documentElement.style.setProperty("--pw-fg", cfg.ink);

const state = {
  token: null,
  visitor: null,
  anonymousId: null,
  page: null,
  conversation: null, // id of the conversation on screen
  closed: false,
  lastSeq: 0, // highest seq with every earlier one seen
  seen: new Set(),
  replayed: 0, // message frames since the last resume was answered
  byClientId: new Map(), // client_id -> <li>
  outbox: [], // {client_id, body, attachments}, kept until acked
  operatorReadSeq: 0,
  open: !embedded,
  unread: 0,
  readSeq: 0,
};

// ---------------------------------------------------------------- storage (may be blocked in a third-party frame)

function readStore(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeStore(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* blocked: unread counts restart with the page */
  }
}

// ---------------------------------------------------------------- host page

function toHost(msg) {
  if (embedded && hostOrigin) window.parent.postMessage({ parley: 1, ...msg }, hostOrigin);
}

window.addEventListener("message", (event) => {
  const msg = event.data;
  if (!embedded || event.source !== window.parent || event.origin !== hostOrigin) return;
  if (!msg || msg.parley !== 1) return;
  if (msg.type === "init") start(msg);
  else if (msg.type === "open") setOpen(true);
  else if (msg.type === "close") setOpen(false);
  else if (msg.type === "page") state.page = msg.page;
  else if (msg.type === "token" && msg.token) {
    state.token = msg.token;
    backoff = 0;
    connect();
  }
});

function setOpen(open) {
  state.open = open;
  if (open) {
    markRead();
    const target = [$("pw-pre-name"), $("pw-c-name"), $("pw-input")].find((el) => el && el.offsetParent && !el.disabled);
    if (target) setTimeout(() => target.focus(), 30);
  }
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    event.preventDefault();
    toHost({ type: "close" });
  }
});
$("pw-close").addEventListener("click", () => toHost({ type: "close" }));

// ---------------------------------------------------------------- HTTP

async function api(path, body, { method = "POST", form = false } = {}) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (!form && body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(boot.api + path, {
    method,
    headers,
    body: form ? body : body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const detail = (data && data.error) || data || {};
    const error = new Error(detail.message || S.error);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

function formError(form, text) {
  const el = form.querySelector("[data-error]");
  if (el) el.textContent = text || "";
}

function errorText(error) {
  return (error && error.message) || S.error;
}

// ---------------------------------------------------------------- views

function show(view) {
  for (const id of ["pw-loading", "pw-prechat", "pw-contact", "pw-chat"]) $(id).hidden = id !== view;
  requestAnimationFrame(() => {
    const height = view === "pw-chat" ? 640 : document.querySelector(".pw-head").offsetHeight + $(view).scrollHeight + 8;
    toHost({ type: "resize", height });
  });
  if (state.open) setOpen(true);
}

function greeting() {
  const returning = state.visitor && state.visitor.returning;
  if (returning) return cfg.greeting_returning || S.greeting_returning;
  return cfg.greeting_new || S.greeting_new;
}

function start(init) {
  state.token = init.token;
  state.visitor = init.visitor || null;
  state.anonymousId = init.anonymousId;
  state.page = init.page;
  state.open = Boolean(init.open);
  $("pw-tr-email").value = (state.visitor && state.visitor.email) || "";
  const conversation = init.conversation;
  if (conversation && conversation.status !== "closed") {
    state.conversation = conversation.id;
    state.readSeq = Number(readStore(`parley:read:${conversation.id}`) || 0);
  }
  $("pw-end").hidden = !state.conversation;
  if (!state.token) {
    $("pw-loading").textContent = S.not_allowed;
    return;
  }
  if (!state.conversation && !cfg.online && cfg.offline === "form") {
    $("pw-c-name").value = (state.visitor && state.visitor.name) || "";
    $("pw-c-email").value = (state.visitor && state.visitor.email) || "";
    show("pw-contact");
    return;
  }
  const needsName = cfg.prechat.enabled && !state.conversation && !(state.visitor && state.visitor.name);
  if (needsName) {
    document.querySelector("#pw-prechat [data-greeting]").textContent = greeting();
    document.querySelector('[data-field="email"]').hidden = !cfg.prechat.email;
    document.querySelector('[data-field="phone"]').hidden = !cfg.prechat.phone;
    show("pw-prechat");
  } else {
    openChat();
  }
}

function openChat() {
  show("pw-chat");
  if (!$("pw-log").querySelector(".pw-greet")) addGreeting();
  // Messages not acknowledged before the last page was left are shown and sent again.
  for (const item of state.outbox) {
    const li = messageElement(item.client_id, true);
    li.querySelector(".pw-bubble").textContent = item.body;
    setMessageState(li, "sending");
    $("pw-log").append(li);
  }
  connect();
}

function addGreeting() {
  const li = document.createElement("li");
  li.className = "pw-msg pw-greet";
  const author = document.createElement("span");
  author.className = "pw-author";
  author.textContent = cfg.title;
  const bubble = document.createElement("div");
  bubble.className = "pw-bubble";
  bubble.textContent = greeting();
  li.append(author, bubble);
  $("pw-log").prepend(li);
}

// ---------------------------------------------------------------- pre-chat and contact forms

$("pw-prechat").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const name = form.name.value.trim();
  const email = form.email.value.trim();
  const phone = form.phone.value.trim();
  if (!name) return formError(form, S.name_required), form.name.focus();
  if (email && !form.email.checkValidity()) return formError(form, S.email_invalid), form.email.focus();
  formError(form, "");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const data = await api("visitor", { name, email, phone });
    state.visitor = { ...(state.visitor || {}), ...(data && data.visitor) };
    if (email) $("pw-tr-email").value = email;
    toHost({ type: "session", session: { visitor: state.visitor } });
    openChat();
  } catch (error) {
    formError(form, errorText(error));
  } finally {
    button.disabled = false;
  }
});

$("pw-contact").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  for (const field of [form.name, form.email, form.message]) {
    if (!field.value.trim() || !field.checkValidity()) {
      formError(form, field === form.email ? S.email_invalid : S.required);
      field.focus();
      return;
    }
  }
  formError(form, "");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api("contact", {
      key: cfg.key,
      anonymous_id: state.anonymousId,
      name: form.name.value.trim(),
      email: form.email.value.trim(),
      message: form.message.value,
      url: (state.page && state.page.url) || "",
    });
    for (const el of form.querySelectorAll("input, textarea, button, label")) el.hidden = true;
    form.querySelector("[data-done]").hidden = false;
  } catch (error) {
    formError(form, errorText(error));
    button.disabled = false;
  }
});

// ---------------------------------------------------------------- messages on screen

function formatTime(iso) {
  try {
    return new Date(iso).toLocaleTimeString(boot.language, { hour: "2-digit", minute: "2-digit" });
  } catch {
    return "";
  }
}

function safeUrl(url) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url, location.href);
    if (parsed.protocol === "blob:") return parsed.href;
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return null;
    // Our own attachment URLs need the visitor token: an <img> cannot send a header.
    if (parsed.origin === location.origin && state.token) parsed.searchParams.set("token", state.token);
    return parsed.href;
  } catch {
    return null;
  }
}

function systemText(message) {
  const data = message.data || {};
  const text = S[`sys_${data.event}`];
  return text ? text.replace("%(name)s", data.name || S.operator) : message.body || "";
}

function renderAttachments(li, attachments) {
  let box = li.querySelector(".pw-files");
  if (!attachments || !attachments.length) return;
  if (!box) {
    box = document.createElement("div");
    box.className = "pw-files";
    li.querySelector(".pw-bubble").after(box);
  }
  box.replaceChildren();
  for (const file of attachments) {
    const url = safeUrl(file.url);
    const name = String(file.filename || file.name || "file");
    const link = document.createElement("a");
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    if (url) link.href = url;
    if (url && String(file.content_type || "").startsWith("image/")) {
      const img = document.createElement("img");
      img.src = url;
      img.alt = name;
      img.loading = "lazy";
      link.append(img);
    } else {
      link.textContent = name;
    }
    box.append(link);
  }
}

function setMessageState(li, messageState) {
  li.classList.remove("pw-state-sending", "pw-state-sent", "pw-state-read", "pw-state-failed");
  li.classList.add(`pw-state-${messageState}`);
  li.dataset.state = messageState;
  const meta = li.querySelector(".pw-meta");
  const label = { sending: S.sending, sent: S.sent, read: S.read, failed: S.failed }[messageState];
  const time = li.dataset.time ? `${formatTime(li.dataset.time)} · ` : "";
  meta.textContent = time + label;
}

function messageElement(clientId, mine) {
  let li = state.byClientId.get(clientId);
  if (li) return li;
  li = document.createElement("li");
  li.className = `pw-msg ${mine ? "pw-mine" : ""}`;
  li.dataset.clientId = clientId;
  if (mine) {
    const who = document.createElement("span");
    who.className = "pw-sr";
    who.textContent = S.you;
    li.append(who);
  }
  const bubble = document.createElement("div");
  bubble.className = "pw-bubble";
  const meta = document.createElement("span");
  meta.className = "pw-meta";
  li.append(bubble, meta);
  state.byClientId.set(clientId, li);
  return li;
}

function placeBySeq(li) {
  // Messages with a seq are kept in seq order; unacked ones stay at the bottom.
  const log = $("pw-log");
  const seq = Number(li.dataset.seq || 0);
  if (!seq) {
    log.append(li);
    return;
  }
  for (const other of log.children) {
    if (other === li || other.classList.contains("pw-greet")) continue;
    const otherSeq = Number(other.dataset.seq || 0);
    if (!otherSeq || otherSeq > seq) {
      if (li.nextSibling !== other) log.insertBefore(li, other);
      return;
    }
  }
  log.append(li);
}

function scrollDown() {
  const log = $("pw-log");
  log.scrollTop = log.scrollHeight;
}

function showMessage(message) {
  const mine = message.author_type === "visitor";
  const li = messageElement(message.client_id || `s${message.seq}`, mine);
  li.dataset.seq = message.seq;
  li.dataset.time = message.created_at || "";
  if (message.author_type === "system" || message.kind === "system") li.classList.add("pw-sys");
  if (!mine && !li.querySelector(".pw-author") && message.author_type !== "system") {
    const author = document.createElement("span");
    author.className = "pw-author";
    author.textContent = message.author_name || S.operator;
    li.prepend(author);
  }
  const system = message.author_type === "system" || message.kind === "system";
  li.querySelector(".pw-bubble").textContent = system ? systemText(message) : message.body || "";
  renderAttachments(li, message.attachments);
  if (mine) setMessageState(li, message.seq <= state.operatorReadSeq ? "read" : "sent");
  else if (!system) li.querySelector(".pw-meta").textContent = formatTime(message.created_at);
  placeBySeq(li);
  scrollDown();
}

// ---------------------------------------------------------------- socket

let socket = null;
let retryTimer = null;
let backoff = 0;
let pingTimer = null;
let pongTimer = null;
let resumeTimer = null;

function banner(text) {
  $("pw-banner").textContent = text || "";
  $("pw-banner").hidden = !text;
}

function setComposeEnabled(enabled) {
  $("pw-input").disabled = !enabled;
  $("pw-send").disabled = !enabled;
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${boot.socket}?token=${encodeURIComponent(state.token)}`;
}

function connect() {
  if (!state.token || (socket && socket.readyState <= WebSocket.OPEN)) return;
  clearTimeout(retryTimer);
  const sock = new WebSocket(socketUrl());
  socket = sock;
  // A handshake that hangs (a captive portal, a dead proxy) is given up and retried.
  const giveUp = setTimeout(() => {
    if (socket === sock && sock.readyState === WebSocket.CONNECTING) {
      dropSocket();
      scheduleReconnect();
    }
  }, 10000);
  sock.addEventListener("open", () => {
    clearTimeout(giveUp);
    if (socket !== sock) return;
    backoff = 0;
    banner("");
    setComposeEnabled(true);
    document.body.dataset.socket = "open";
    resume();
    flushOutbox();
    schedulePing();
  });
  sock.addEventListener("message", (event) => {
    if (socket !== sock) return;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    clearTimeout(pongTimer);
    handleFrame(frame);
  });
  sock.addEventListener("close", (event) => {
    if (socket !== sock) return;
    socket = null;
    document.body.dataset.socket = "closed";
    clearTimeout(pingTimer);
    clearTimeout(pongTimer);
    if (event.code === 4401 && !state.tokenRenewed) {
      // The visitor token expired (a tab left open for weeks): the loader opens a new session.
      state.tokenRenewed = true;
      banner(S.reconnecting);
      toHost({ type: "expired" });
      return;
    }
    if (event.code === 4401 || event.code === 4403) {
      banner(S.not_allowed);
      setComposeEnabled(false);
      return;
    }
    banner(S.reconnecting);
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  clearTimeout(retryTimer);
  const delay = Math.min(15000, 500 * 2 ** backoff) * (0.75 + Math.random() / 2);
  backoff = Math.min(backoff + 1, 6);
  retryTimer = setTimeout(connect, delay);
}

function reconnectNow() {
  if (!state.token || $("pw-chat").hidden) return;
  if (socket && socket.readyState === WebSocket.OPEN) {
    ping();
    return;
  }
  backoff = 0;
  dropSocket();
  connect();
}

function dropSocket() {
  if (!socket) return;
  const sock = socket;
  socket = null;
  try {
    sock.close();
  } catch {
    /* already closed */
  }
  document.body.dataset.socket = "closed";
  clearTimeout(pingTimer);
  clearTimeout(pongTimer);
}

function sendFrame(frame) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(frame));
  return true;
}

function ping() {
  if (!sendFrame({ type: "ping" })) return;
  clearTimeout(pongTimer);
  // A socket that stays silent after a ping is dead even if the browser has not noticed.
  pongTimer = setTimeout(() => {
    dropSocket();
    banner(S.reconnecting);
    scheduleReconnect();
  }, 8000);
}

function schedulePing() {
  clearTimeout(pingTimer);
  pingTimer = setTimeout(() => {
    ping();
    schedulePing();
  }, 25000);
}

window.addEventListener("online", reconnectNow);
window.addEventListener("offline", () => {
  if (!state.token || $("pw-chat").hidden) return;
  dropSocket();
  banner(S.reconnecting);
  scheduleReconnect();
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    reconnectNow();
    markRead();
  }
});

function resume() {
  if (!state.conversation) return;
  sendFrame({ type: "resume", conversations: { [state.conversation]: state.lastSeq } });
}

function requestResume() {
  clearTimeout(resumeTimer);
  resumeTimer = setTimeout(resume, 150);
}

function noteSeq(seq) {
  state.seen.add(seq);
  while (state.seen.has(state.lastSeq + 1)) state.lastSeq += 1;
  if (seq > state.lastSeq) requestResume(); // a hole: ask the server what we missed
}

function adoptConversation(id) {
  if (state.conversation === id) return;
  state.conversation = id;
  state.closed = false;
  state.lastSeq = 0;
  state.seen = new Set();
  state.readSeq = Number(readStore(`parley:read:${id}`) || 0);
  $("pw-end").hidden = false;
}

function handleFrame(frame) {
  switch (frame.type) {
    case "ack": {
      const item = state.outbox.find((entry) => entry.client_id === frame.client_id);
      state.outbox = state.outbox.filter((entry) => entry.client_id !== frame.client_id);
      saveOutbox();
      if (!state.conversation || state.closed) adoptConversation(frame.conversation);
      if (frame.conversation !== state.conversation) return;
      const message = frame.message || { seq: frame.seq, client_id: frame.client_id, author_type: "visitor", body: item && item.body };
      showMessage({ ...message, author_type: "visitor" });
      noteSeq(frame.seq);
      return;
    }
    case "message": {
      const message = frame.message;
      if (!message) return;
      if (!state.conversation) adoptConversation(frame.conversation);
      if (frame.conversation !== state.conversation) return;
      if (message.author_type === "visitor" && state.outbox.some((entry) => entry.client_id === message.client_id)) {
        state.outbox = state.outbox.filter((entry) => entry.client_id !== message.client_id);
        saveOutbox();
      }
      state.replayed += 1;
      const fresh = !state.seen.has(message.seq);
      showMessage(message);
      noteSeq(message.seq);
      const event = message.data && message.data.event;
      if (message.author_type === "system" && event === "closed") endOfChat();
      if (message.author_type === "system" && event === "reopened") reopened();
      if (fresh && message.author_type === "operator") {
        typingOff();
        if (message.seq > state.readSeq) countUnread();
      }
      return;
    }
    case "hello":
      if (frame.conversation && !state.conversation) {
        adoptConversation(frame.conversation);
        resume();
      }
      return;
    case "resumed": {
      // A resume answers with every message we may see up to `last` (private notes leave holes in
      // the numbering, so holes below it are not gaps), unless the replay was cut at its limit.
      const last = Number((frame.conversations || {})[state.conversation] || 0);
      if (state.replayed >= REPLAY_LIMIT) {
        state.lastSeq = Math.max(state.lastSeq, ...state.seen);
        requestResume();
      } else {
        state.lastSeq = Math.max(state.lastSeq, last);
      }
      state.replayed = 0;
      return;
    }
    case "typing":
      if (frame.conversation === state.conversation && frame.side === "operator") {
        if (frame.on) typingOn(frame.name);
        else typingOff();
      }
      return;
    case "read":
      if (frame.conversation === state.conversation && frame.side === "operator") {
        state.operatorReadSeq = Math.max(state.operatorReadSeq, Number(frame.seq) || 0);
        for (const li of $("pw-log").querySelectorAll(".pw-mine[data-seq]")) {
          if (Number(li.dataset.seq) <= state.operatorReadSeq) setMessageState(li, "read");
        }
      }
      return;
    case "conversation": {
      const summary = frame.conversation || {};
      if (summary.id !== undefined && summary.id !== state.conversation) return;
      if (frame.event === "closed") endOfChat();
      else if (frame.event === "reopened") reopened();
      return;
    }
    case "error":
      if (frame.code === "closed" && frame.ref) {
        // The conversation ended while this message was on its way: it starts a new one.
        state.closed = true;
        flushOutbox();
      } else if (frame.code === "not_found" && frame.ref) {
        state.conversation = null;
        flushOutbox();
      }
      return;
    default:
  }
}

// ---------------------------------------------------------------- unread and read receipts

function countUnread() {
  if (state.open && document.visibilityState === "visible") {
    markRead();
    return;
  }
  state.unread += 1;
  toHost({ type: "unread", count: state.unread });
}

function markRead() {
  if (!state.conversation || !state.open || document.visibilityState !== "visible") return;
  if (state.lastSeq > state.readSeq) {
    state.readSeq = state.lastSeq;
    writeStore(`parley:read:${state.conversation}`, String(state.readSeq));
    sendFrame({ type: "read", conversation: state.conversation, seq: state.readSeq });
  }
  if (state.unread) {
    state.unread = 0;
    toHost({ type: "unread", count: 0 });
  }
}

// ---------------------------------------------------------------- typing

let typingTimer = null;

function typingOn(name) {
  $("pw-typing").textContent = S.typing.replace("%(name)s", name || S.operator);
  clearTimeout(typingTimer);
  typingTimer = setTimeout(typingOff, 6000);
}

function typingOff() {
  clearTimeout(typingTimer);
  $("pw-typing").textContent = "";
}

let draftSentAt = 0;
let draftTimer = null;
let draftOn = false;

function sendDraft() {
  clearTimeout(draftTimer);
  if (!state.conversation || state.closed) return;
  const draft = $("pw-input").value.slice(0, 500);
  const on = draft.trim().length > 0;
  if (!on && !draftOn) return;
  draftOn = on;
  draftSentAt = Date.now();
  sendFrame({ type: "typing", conversation: state.conversation, on, draft });
}

$("pw-input").addEventListener("input", () => {
  const input = $("pw-input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight + 2, 120)}px`;
  // Throttled: at most one preview per 800 ms, and the last keystroke always goes out.
  const wait = 800 - (Date.now() - draftSentAt);
  clearTimeout(draftTimer);
  if (wait <= 0) sendDraft();
  else draftTimer = setTimeout(sendDraft, wait);
});

// ---------------------------------------------------------------- sending

function saveOutbox() {
  try {
    sessionStorage.setItem("parley:outbox", JSON.stringify(state.outbox));
  } catch {
    /* storage unavailable: the outbox lives in memory only */
  }
}

function newClientId() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function flushOutbox() {
  for (const item of state.outbox) {
    const frame = { type: "send", client_id: item.client_id, body: item.body };
    if (item.attachments && item.attachments.length) frame.attachments = item.attachments;
    if (state.conversation && !state.closed) frame.conversation = state.conversation;
    if (!sendFrame(frame)) return;
  }
}

function queueMessage(body, attachments, files) {
  const item = { client_id: newClientId(), body, attachments: attachments || [] };
  state.outbox.push(item);
  saveOutbox();
  const li = messageElement(item.client_id, true);
  li.querySelector(".pw-bubble").textContent = body;
  if (files) renderAttachments(li, files);
  setMessageState(li, "sending");
  $("pw-log").append(li);
  scrollDown();
  if (state.closed) {
    // A message after the end of a chat starts a new conversation.
    state.conversation = null;
    state.closed = false;
    $("pw-endpanel").hidden = true;
  }
  flushOutbox();
  if (!socket || socket.readyState !== WebSocket.OPEN) reconnectNow();
}

$("pw-compose").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("pw-input");
  const body = input.value.trim();
  if (!body) return;
  input.value = "";
  input.style.height = "auto";
  if (draftOn) {
    draftOn = false;
    sendFrame({ type: "typing", conversation: state.conversation, on: false, draft: "" });
  }
  queueMessage(body);
  input.focus();
});

$("pw-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("pw-compose").requestSubmit();
  }
});

$("pw-file").addEventListener("change", async (event) => {
  const input = event.currentTarget;
  const file = input.files && input.files[0];
  input.value = "";
  if (!file) return;
  const body = new FormData();
  body.append("file", file);
  if (state.conversation && !state.closed) body.append("conversation", String(state.conversation));
  banner(S.uploading);
  try {
    const data = await api("upload", body, { form: true });
    banner("");
    const token = data.token;
    if (data.conversation && (!state.conversation || state.closed)) adoptConversation(data.conversation);
    const preview = [{ url: URL.createObjectURL(file), filename: file.name, content_type: file.type }];
    queueMessage("", [token], preview);
  } catch (error) {
    banner(`${S.upload_failed} ${error.status === 413 ? "" : errorText(error)}`.trim());
    setTimeout(() => banner(""), 5000);
  }
});

// ---------------------------------------------------------------- end of chat

function reopened() {
  state.closed = false;
  $("pw-endpanel").hidden = true;
  $("pw-endpanel").classList.remove("pw-closed");
  $("pw-end").hidden = false;
}

function scrollPanel() {
  const panel = $("pw-endpanel");
  panel.scrollTop = panel.scrollHeight;
}

function endOfChat() {
  state.closed = true;
  typingOff();
  $("pw-end").hidden = true;
  $("pw-endpanel").hidden = false;
  $("pw-endpanel").classList.add("pw-closed");
  const rate = $("pw-rate");
  rate.hidden = false;
  scrollDown();
}

$("pw-end").addEventListener("click", async () => {
  if (!state.conversation) return;
  try {
    await api("end", { conversation: state.conversation });
  } catch {
    /* the panel shows anyway; the operator closes the chat later */
  }
  endOfChat();
  $("pw-rate").querySelector(".pw-rate-btn").focus();
});

let chosenRating = "";
for (const button of document.querySelectorAll(".pw-rate-btn")) {
  button.addEventListener("click", () => {
    chosenRating = button.dataset.rating;
    for (const other of document.querySelectorAll(".pw-rate-btn")) {
      other.setAttribute("aria-pressed", String(other === button));
    }
    $("pw-rate").querySelector(".pw-rate-more").hidden = false;
    scrollPanel();
  });
}

let ratedConversation = null;
$("pw-rate").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  if (!chosenRating) {
    form.querySelector(".pw-rate-btn").focus();
    return;
  }
  ratedConversation = state.conversation;
  try {
    await api("rating", { conversation: ratedConversation, rating: chosenRating, comment: form.comment.value });
    for (const el of form.querySelectorAll(".pw-rate-more, .pw-rate-buttons, h2")) el.hidden = true;
    form.querySelector("[data-done]").hidden = false;
  } catch (error) {
    form.querySelector("[data-done]").hidden = false;
    form.querySelector("[data-done]").textContent = errorText(error);
  }
});

$("pw-transcript").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const email = form.email.value.trim();
  if (!email || !form.email.checkValidity()) {
    formError(form, S.email_invalid);
    form.email.focus();
    return;
  }
  formError(form, "");
  try {
    await api("transcript", { conversation: state.conversation, email });
    const done = form.querySelector("[data-done]");
    done.textContent = S.transcript_sent.replace("%(email)s", email);
    done.hidden = false;
  } catch (error) {
    formError(form, errorText(error));
  }
});

$("pw-new").addEventListener("click", () => {
  state.conversation = null;
  state.closed = false;
  state.lastSeq = 0;
  state.seen = new Set();
  state.byClientId.clear();
  chosenRating = "";
  $("pw-log").replaceChildren();
  addGreeting();
  $("pw-endpanel").hidden = true;
  $("pw-endpanel").classList.remove("pw-closed");
  const rate = $("pw-rate");
  for (const el of rate.querySelectorAll(".pw-rate-buttons, h2")) el.hidden = false;
  rate.querySelector(".pw-rate-more").hidden = true;
  rate.querySelector("[data-done]").hidden = true;
  rate.reset();
  for (const other of document.querySelectorAll(".pw-rate-btn")) other.setAttribute("aria-pressed", "false");
  $("pw-transcript").querySelector("[data-done]").hidden = true;
  $("pw-input").focus();
});

// ---------------------------------------------------------------- boot

try {
  state.outbox = JSON.parse(sessionStorage.getItem("parley:outbox") || "[]");
} catch {
  state.outbox = [];
}

if (embedded) {
  toHost({ type: "ready" });
} else {
  // Opened directly (not framed by a site): nothing to chat with.
  $("pw-loading").textContent = S.not_allowed;
}
