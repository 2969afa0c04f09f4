// Parley chat iframe: the visitor's side of docs/protocol.md. This module boots the frame and
// wires the others (js/); features register through js/extend.js (docs/widget.md).

import { wireAttachments } from "./js/attachments.js";
import { openChat } from "./js/chat.js";
import { wireComposer } from "./js/composer.js";
import { socket } from "./js/connection.js";
import { showContactForm, wantsContactForm, wireContactForm } from "./js/contact.js";
import { $ } from "./js/dom.js";
import { listenToHost, toHost } from "./js/host.js";
import { S } from "./js/i18n.js";
import { needsPrechat, showPrechat, wirePrechat } from "./js/prechat.js";
import { wireRating } from "./js/rating.js";
import { cfg, embedded, readStore, state } from "./js/state.js";
import { markRead } from "./js/unread.js";
import { setOpen } from "./js/views.js";
// Features (one import each, alphabetical): each registers its hooks in js/extend.js.
import "./js/features/invoices.js";
import "./js/features/sociallogin.js";
import "./js/features/telegram.js";
import "./js/features/queue.js";

document.documentElement.style.setProperty("--pw-c", cfg.colour);
document.documentElement.style.setProperty("--pw-fg", cfg.ink);

// The loader's init: who the visitor is, the open conversation, whether the chat is open.
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
  if (wantsContactForm()) showContactForm();
  else if (needsPrechat()) showPrechat();
  else openChat();
}

listenToHost({
  init: start,
  open: () => setOpen(true),
  close: () => setOpen(false),
  page: (msg) => {
    state.page = msg.page;
  },
  token: (msg) => {
    if (!msg.token) return;
    state.token = msg.token;
    socket.attempt = 0;
    socket.connect();
  },
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    event.preventDefault();
    toHost({ type: "close" });
  }
});
$("pw-close").addEventListener("click", () => toHost({ type: "close" }));
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") markRead();
});

wirePrechat();
wireContactForm();
wireComposer();
wireAttachments();
wireRating();
socket.watchPage();

if (embedded) {
  toHost({ type: "ready" });
} else {
  // Opened directly (not framed by a site): nothing to chat with.
  $("pw-loading").textContent = S.not_allowed;
}
