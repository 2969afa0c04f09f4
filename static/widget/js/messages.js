// Messages on screen: one <li> per message, keyed by client id, kept in seq order.

import { $, el, safeUrl } from "./dom.js";
import { messageRenderer } from "./extend.js";
import { S, formatTime, t } from "./i18n.js";
import { cfg, state } from "./state.js";

export function greeting() {
  const returning = state.visitor && state.visitor.returning;
  if (returning) return cfg.greeting_returning || S.greeting_returning;
  return cfg.greeting_new || S.greeting_new;
}

export function addGreeting() {
  const li = el("li", "pw-msg pw-greet");
  li.append(el("span", "pw-author", cfg.title), el("div", "pw-bubble", greeting()));
  $("pw-log").prepend(li);
}

function systemText(message) {
  const data = message.data || {};
  const key = `sys_${data.event}`;
  return S[key] ? t(key, { name: data.name || S.operator }) : message.body || "";
}

export function renderAttachments(li, attachments) {
  let box = li.querySelector(".pw-files");
  if (!attachments || !attachments.length) return;
  if (!box) {
    box = el("div", "pw-files");
    li.querySelector(".pw-bubble").after(box);
  }
  box.replaceChildren();
  for (const file of attachments) {
    const url = safeUrl(file.url);
    const name = String(file.filename || file.name || "file");
    const link = el("a");
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    if (url) link.href = url;
    if (url && String(file.content_type || "").startsWith("image/")) {
      const img = el("img");
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

export function setMessageState(li, messageState) {
  li.classList.remove("pw-state-sending", "pw-state-sent", "pw-state-read", "pw-state-failed");
  li.classList.add(`pw-state-${messageState}`);
  li.dataset.state = messageState;
  const label = { sending: S.sending, sent: S.sent, read: S.read, failed: S.failed }[messageState];
  const time = li.dataset.time ? `${formatTime(li.dataset.time)} · ` : "";
  li.querySelector(".pw-meta").textContent = time + label;
}

export function messageElement(clientId, mine) {
  let li = state.byClientId.get(clientId);
  if (li) return li;
  li = el("li", `pw-msg ${mine ? "pw-mine" : ""}`);
  li.dataset.clientId = clientId;
  if (mine) li.append(el("span", "pw-sr", S.you));
  li.append(el("div", "pw-bubble"), el("span", "pw-meta"));
  state.byClientId.set(clientId, li);
  return li;
}

// A message of ours that the server has not acknowledged yet: shown at the bottom as "sending".
export function showPending(item, files) {
  const li = messageElement(item.client_id, true);
  li.querySelector(".pw-bubble").textContent = item.body;
  if (files) renderAttachments(li, files);
  setMessageState(li, "sending");
  $("pw-log").append(li);
  return li;
}

// The server will take it later (rate limit, its own failure): "not sent yet, will retry".
export function showRetrying(clientId) {
  const li = state.byClientId.get(clientId);
  if (li && !li.dataset.seq) setMessageState(li, "failed");
}

// Refused for good (the server's reason, in the visitor's language): it stays on screen, unsent.
export function showNotSent(clientId, reason) {
  const li = state.byClientId.get(clientId);
  if (!li || li.dataset.seq) return;
  setMessageState(li, "failed");
  if (reason) li.querySelector(".pw-meta").textContent = reason;
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

export function scrollDown() {
  const log = $("pw-log");
  log.scrollTop = log.scrollHeight;
}

export function showMessage(message) {
  const mine = message.author_type === "visitor";
  const li = messageElement(message.client_id || `s${message.seq}`, mine);
  li.dataset.seq = message.seq;
  li.dataset.time = message.created_at || "";
  const system = message.author_type === "system" || message.kind === "system";
  if (system) li.classList.add("pw-sys");
  if (!mine && !li.querySelector(".pw-author") && message.author_type !== "system") {
    li.prepend(el("span", "pw-author", message.author_name || S.operator));
  }
  const bubble = li.querySelector(".pw-bubble");
  const render = messageRenderer(message.kind);
  if (render && !system) {
    bubble.replaceChildren();
    render(message, bubble, li);
  } else {
    bubble.textContent = system ? systemText(message) : message.body || "";
  }
  renderAttachments(li, message.attachments);
  if (mine) setMessageState(li, message.seq <= state.operatorReadSeq ? "read" : "sent");
  else if (!system) li.querySelector(".pw-meta").textContent = formatTime(message.created_at);
  placeBySeq(li);
  scrollDown();
}

export function showOperatorRead(seq) {
  state.operatorReadSeq = Math.max(state.operatorReadSeq, Number(seq) || 0);
  for (const li of $("pw-log").querySelectorAll(".pw-mine[data-seq]")) {
    if (Number(li.dataset.seq) <= state.operatorReadSeq) setMessageState(li, "read");
  }
}
