// Routing in the dashboard: a chat offered to me (banner with a countdown, sound, notification,
// accept with A or Alt+Enter), why the system paused me or set me offline (next to my status),
// and the response countdown or breach mark of chats waiting for a reply (header and list):
// the first reply, or the next one after the visitor wrote again.

import { accept, renderStatus } from "../actions.js";
import { get } from "../api.js";
import { $, h } from "../dom.js";
import { onFrameType, registerHeaderStatus, registerListBadge } from "../extend.js";
import { t } from "../i18n.js";
import { renderList, visitorName } from "../list.js";
import * as notify from "../notify.js";
import { me, serverNow, state } from "../state.js";

const offers = new Map(); // conversation id -> expiry (ms) or null (broadcast)
const sla = new Map(); // conversation id -> {kind: "first" | "next", due_at, breached}
const asked = new Set(); // conversation ids whose targets the server was asked for
let banner = null;
let reasonNode = null;

function clockText(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function reasonText(presence) {
  if (presence.reason === "missed_offers") return t("routing.reason.missed", { n: presence.detail?.missed ?? "" });
  if (presence.reason === "disconnected") return t("routing.reason.disconnected");
  return "";
}

function showReason(presence) {
  if (!reasonNode) {
    reasonNode = h("span", { class: "op-reason", id: "op-status-reason", role: "status" });
    $(".op-status").after(reasonNode);
  }
  const text = presence.status !== "online" ? reasonText(presence) : "";
  reasonNode.textContent = text;
  reasonNode.hidden = !text;
}

function renderBanner() {
  const id = offers.keys().next().value;
  if (id === undefined) {
    banner?.remove();
    banner = null;
    return;
  }
  if (!banner) {
    banner = h("div", { class: "offer-banner", id: "offer-banner", role: "alert" });
    document.body.append(banner);
  }
  const expires = offers.get(id);
  const summary = state.conversations.get(id);
  const left = expires ? (expires - serverNow()) / 1000 : null;
  const button = h("button", { type: "button", class: "btn primary small", text: t("routing.accept") });
  button.addEventListener("click", () => take(id));
  banner.replaceChildren(
    h("strong", { text: t("routing.offer", { name: summary ? visitorName(summary) : `#${id}` }) }),
    h("span", { class: "offer-left", text: left === null ? "" : t("routing.offer_left", { time: clockText(left) }) }),
    button,
    h("kbd", { text: "A" }),
  );
}

function take(id) {
  offers.delete(id);
  renderBanner();
  accept(id);
}

function onOffer(frame) {
  const id = frame.conversation;
  if (frame.event === "made") {
    offers.set(id, frame.expires_at ? new Date(frame.expires_at).getTime() : null);
    notify.chime();
    notify.blinkTitle(t("routing.offer_title"));
    notify.desktopNotify(t("notify.title"), t("routing.offer_title"), () => take(id));
  } else {
    offers.delete(id);
    if (frame.event === "expired") notify.stopBlinking();
  }
  renderBanner();
  renderList();
}

function onPresence(frame) {
  if (frame.operator?.id !== me.id) return;
  me.status = frame.operator.status;
  renderStatus();
  showReason(frame.operator);
}

function onSla(frame) {
  sla.set(frame.conversation, { kind: frame.kind || "first", due_at: frame.due_at, breached: frame.event === "breached" });
  renderList();
}

// An operator's public reply stops the clock of the chat (the server's next refresh agrees): seen as
// a `message` frame on a socket watching the chat, or as a `list` item on every socket.
function replied(message) {
  return message && message.author_type === "operator" && message.kind !== "note";
}

function onMessage(frame) {
  if (replied(frame.message) && sla.delete(frame.conversation)) renderList();
}

function onListItems(frame) {
  let changed = false;
  for (const item of frame.conversations || []) {
    if (replied(item.last_message) && sla.delete(item.id)) changed = true;
  }
  if (changed) renderList();
}

async function refresh() {
  const open = [...state.conversations.values()].filter((c) => c.status !== "closed").map((c) => c.id);
  for (const id of open) asked.add(id); // asked once, even past the request's 200 (no refresh loop)
  const ids = open.slice(0, 200);
  try {
    const data = await get(`/app/api/routing/state?ids=${ids.join(",")}`);
    showReason(data.presence);
    for (const offer of data.offers) offers.set(offer.conversation, offer.expires_at ? new Date(offer.expires_at).getTime() : null);
    for (const id of ids) if (!(id in data.sla)) sla.delete(id);
    for (const [id, value] of Object.entries(data.sla)) sla.set(Number(id), value);
    renderBanner();
    renderList();
  } catch {
    // the next refresh tries again
  }
}

function breachText(kind) {
  return t(kind === "next" ? "routing.sla_next_breached" : "routing.sla_breached");
}

function slaBadge(summary) {
  const target = sla.get(summary.id);
  if (!target || summary.status === "closed" || !target.due_at) return null;
  if (target.kind !== "next" && summary.first_reply_at) return null;
  const left = (new Date(target.due_at).getTime() - serverNow()) / 1000;
  if (target.breached || left <= 0) return h("span", { class: "badge sla-breached", dataset: { kind: target.kind }, text: breachText(target.kind) });
  return h("span", {
    class: "badge sla",
    dataset: { due: target.due_at, kind: target.kind },
    text: t("routing.sla_left", { time: clockText(left) }),
  });
}

// The countdowns tick in place, without re-rendering the lists.
function tickSla() {
  for (const badge of document.querySelectorAll(".badge.sla[data-due]")) {
    const left = (new Date(badge.dataset.due).getTime() - serverNow()) / 1000;
    if (left <= 0) {
      badge.className = "badge sla-breached";
      badge.textContent = breachText(badge.dataset.kind);
      delete badge.dataset.due;
    } else {
      badge.textContent = t("routing.sla_left", { time: clockText(left) });
    }
  }
}

function onKeydown(event) {
  if (!offers.size || document.querySelector("dialog[open]")) return;
  const editing = ["INPUT", "TEXTAREA", "SELECT"].includes(event.target?.tagName) || event.target?.isContentEditable;
  const hotkey = (event.altKey && event.key === "Enter") || (!editing && !event.ctrlKey && !event.metaKey && !event.altKey && event.key === "a");
  if (!hotkey) return;
  event.preventDefault();
  event.stopImmediatePropagation(); // the offered chat, not whichever one is selected
  take(offers.keys().next().value);
}

onFrameType("offer", onOffer);
onFrameType("presence", onPresence);
onFrameType("sla", onSla);
onFrameType("message", onMessage);
onFrameType("list", onListItems);
onFrameType("hello", refresh); // every (re)connect: offers and reasons as the server has them
let soon = null;
function refreshSoon(delay) {
  if (soon) return; // one request for a burst
  soon = setTimeout(() => {
    soon = null;
    refresh();
  }, delay);
}
onFrameType("conversation", (frame) => {
  // A new or requeued chat: its first-response target, shortly.
  if (["created", "reopened", "transferred"].includes(frame.event)) refreshSoon(1000);
});
registerListBadge((summary) => {
  // A chat the list shows for the first time (another box loaded, a page further down): its targets.
  if (!asked.has(summary.id) && summary.status !== "closed") refreshSoon(300);
  return offers.has(summary.id) ? h("span", { class: "badge offered", text: t("routing.offered_badge") }) : slaBadge(summary);
});
registerHeaderStatus(slaBadge);
window.addEventListener("keydown", onKeydown, true);
setInterval(() => {
  if (offers.size) renderBanner();
}, 1000);
// Once the lists are in (their first-response targets), then every 30 s; countdowns every second.
let tries = 0;
function firstRefresh() {
  if (!state.listsLoaded && tries++ < 20) {
    setTimeout(firstRefresh, 500);
    return;
  }
  refresh();
}
firstRefresh();
setInterval(refresh, 30000);
setInterval(tickSla, 1000);
