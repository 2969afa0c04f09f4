// Parley operator dashboard: one page, one websocket, no reloads. This module wires the
// others (js/) and starts them; features live in js/features/ and register through
// js/extend.js (docs/dashboard.md, "Extension points").

import {
  accept,
  closeChat,
  focusReply,
  openInvite,
  openTransfer,
  renderStatus,
  reopenChat,
  setStatus,
  submitInvite,
  submitTransfer,
} from "./js/actions.js";
import { toast } from "./js/attention.js";
import { loadVisitors } from "./js/card.js";
import { renderTyping } from "./js/chat.js";
import { wireComposer } from "./js/composer.js";
import { socket } from "./js/connection.js";
import { $, $$ } from "./js/dom.js";
import { duration } from "./js/i18n.js";
import { onKey } from "./js/keys.js";
import { boxItems, loadLists, mergeSummary, renderList, switchBox } from "./js/list.js";
import * as notify from "./js/notify.js";
import { markRead, openChat, renderChatHead, watchScrollBack } from "./js/pane.js";
import { secondsSince, state } from "./js/state.js";
// Features (one import each, alphabetical): each registers its hooks in js/extend.js.
import "./js/features/canned.js";
import "./js/features/invoices.js";
import "./js/features/email.js";
import "./js/features/telegram.js";
import "./js/features/routing.js";

const TICK = 1000;
const VISITORS_EVERY = 15000;

function wire() {
  state.actions = {
    openChat,
    toast,
    conversationArrived: (summary) => {
      mergeSummary(summary);
      renderList();
    },
    visitorRenamed: (card) => {
      for (const c of state.conversations.values()) {
        if (c.visitor?.id === card.id) c.visitor = { ...c.visitor, name: card.name, email: card.email };
      }
      renderList();
      if (state.selected) renderChatHead();
    },
  };
  for (const tab of $$(".boxes [data-box]")) tab.addEventListener("click", () => switchBox(tab.dataset.box));
  for (const tab of $$(".composer-tabs [data-kind]")) tab.addEventListener("click", () => focusReply(tab.dataset.kind === "note"));
  wireComposer();
  watchScrollBack();
  $("#act-accept").addEventListener("click", () => accept(state.selected));
  $("#act-close").addEventListener("click", closeChat);
  $("#act-reopen").addEventListener("click", reopenChat);
  $("#act-transfer").addEventListener("click", openTransfer);
  $("#act-invite").addEventListener("click", openInvite);
  $("#act-card").addEventListener("click", () => {
    document.body.dataset.pane = document.body.dataset.pane === "card" ? "chat" : "card";
    document.body.classList.toggle("card-open");
  });
  $("#chat-back").addEventListener("click", () => {
    document.body.dataset.pane = "list";
  });
  $("#card-back").addEventListener("click", () => {
    document.body.dataset.pane = "chat";
    document.body.classList.remove("card-open");
  });
  $("#transfer-dialog").addEventListener("close", () => {
    if ($("#transfer-dialog").returnValue === "ok") submitTransfer();
  });
  $("#invite-dialog").addEventListener("close", () => {
    if ($("#invite-dialog").returnValue === "ok") submitInvite();
  });
  $("#help-open").addEventListener("click", () => $("#help-dialog").showModal());
  $("#op-status").addEventListener("change", (event) => setStatus(event.target.value));
  // The language switch submits its form (no inline handler: the page runs under a strict CSP).
  $("#lang-select").addEventListener("change", (event) => event.target.form.submit());
  const enable = $("#notify-enable");
  enable.hidden = !notify.notificationsWanted();
  enable.addEventListener("click", async () => {
    await notify.askPermission();
    enable.hidden = !notify.notificationsWanted();
  });
  document.addEventListener("keydown", onKey);
  window.addEventListener("focus", () => {
    if (!boxItems("queued").length || state.selected) notify.stopBlinking();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.selected) markRead(state.selected);
  });
  notify.unlockOnGesture();
}

// Waiting times and time on site tick every second without touching the server.
function tick() {
  for (const el of $$(".live-duration[data-since]")) {
    if (el.dataset.since) el.textContent = duration(secondsSince(el.dataset.since));
  }
  const chat = state.chats.get(state.selected);
  if (chat && chat.operatorsTyping.size) renderTyping(chat);
}

wire();
renderStatus();
renderList();
socket.watchPage();
socket.connect();
loadLists();
loadVisitors();
setInterval(tick, TICK);
setInterval(() => {
  if (state.box === "visitors" || document.visibilityState === "visible") loadVisitors();
}, VISITORS_EVERY);
window.parley = { state, socket }; // for debugging and the browser test
