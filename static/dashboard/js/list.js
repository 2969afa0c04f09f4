// The conversation lists (queue, mine, all open, closed) and the visitors tab: which box a
// conversation belongs in, loading a box over HTTP, and drawing the list pane.

import * as api from "./api.js";
import { newChatAlert, rung, toast } from "./attention.js";
import { renderVisitors, loadVisitors } from "./card.js";
import { systemText } from "./chat.js";
import { $, $$, clear, h } from "./dom.js";
import { asNodes, listBadgeList } from "./extend.js";
import { duration, t } from "./i18n.js";
import { openChat } from "./pane.js";
import { me, secondsSince, state } from "./state.js";

const OPEN = new Set(["open", "pending"]);
export const BOX_KEYS = ["queued", "mine", "open", "closed", "visitors"];

export function inBox(c, box) {
  if (box === "queued") return c.status === "queued";
  if (box === "mine") return OPEN.has(c.status) && c.assignee?.id === me.id;
  if (box === "open") return OPEN.has(c.status);
  if (box === "closed") return c.status === "closed";
  return false;
}

function waitingSince(c) {
  if (c.status === "queued") return c.created_at;
  if (c.status === "closed") return null;
  if (c.last_message?.author_type === "visitor") return c.last_message.created_at;
  return null;
}

export function boxItems(box) {
  const items = Array.from(state.conversations.values()).filter((c) => inBox(c, box));
  if (box === "queued") items.sort((a, b) => (a.created_at < b.created_at ? -1 : 1)); // oldest waits first
  else items.sort((a, b) => (a.last_message_at < b.last_message_at ? 1 : -1));
  return items;
}

export function visitorName(c) {
  return c.visitor?.name || c.visitor?.email || t("visitor.anonymous", { id: c.visitor?.id ?? "" });
}

function preview(c) {
  const chat = state.chats.get(c.id);
  if (chat && chat.draft) return `✎ ${chat.draft}`;
  const last = c.last_message;
  if (!last) return "";
  if (last.kind === "system") return systemText(last);
  const prefix = last.kind === "note" ? `${t("chat.note_badge")}: ` : "";
  return prefix + (last.body || "");
}

function row(c) {
  const since = waitingSince(c);
  const unread = c.status === "closed" ? 0 : c.unread || 0;
  return h(
    "li",
    {
      class: `conv${c.id === state.selected ? " selected" : ""}${unread ? " unread" : ""}`,
      role: "option",
      "aria-selected": String(c.id === state.selected),
      dataset: { id: c.id },
      tabindex: "0",
      onclick: () => openChat(c.id),
      onkeydown: (event) => {
        if (event.key === "Enter" && event.target === event.currentTarget) openChat(c.id);
      },
    },
    h(
      "div",
      { class: "conv-top" },
      h("strong", { class: "conv-name", text: visitorName(c) }),
      unread ? h("span", { class: "unread-count", title: t("list.unread", { count: unread }), text: String(unread) }) : null,
      since ? h("span", { class: "waiting live-duration", dataset: { since }, text: duration(secondsSince(since)) }) : null,
    ),
    h("div", { class: "conv-preview", text: preview(c) }),
    h(
      "div",
      { class: "conv-meta muted small" },
      h("span", { class: `badge status-${c.status}`, text: t(`status.${c.status}`) }),
      listBadgeList().flatMap((render) => asNodes(render(c))),
      c.assignee && state.box !== "mine" ? ` ${c.assignee.name}` : "",
      c.department ? ` · ${c.department.name}` : "",
    ),
  );
}

export function renderList() {
  for (const box of ["queued", "mine", "open"]) {
    const count = boxItems(box).length;
    document.querySelector(`[data-count="${box}"]`).textContent = count ? String(count) : "";
  }
  for (const tab of $$(".boxes [data-box]")) tab.setAttribute("aria-selected", String(tab.dataset.box === state.box));
  const list = $("#conv-list");
  const visitors = $("#visitors");
  list.hidden = state.box === "visitors";
  visitors.hidden = state.box !== "visitors";
  if (state.box === "visitors") {
    renderVisitors();
    return;
  }
  clear(list);
  const items = boxItems(state.box);
  if (!items.length) list.append(h("li", { class: "empty muted", text: t("list.empty") }));
  for (const c of items) list.append(row(c));
  if (state.nextBefore[state.box]) {
    list.append(h("li", { class: "more" }, h("button", { type: "button", class: "btn small", text: t("list.more"), onclick: () => loadBox(state.box, true) })));
  }
}

export function mergeSummary(summary) {
  const previous = state.conversations.get(summary.id);
  const merged = { ...(previous || {}), ...summary };
  if (!("last_message" in summary) && previous) merged.last_message = previous.last_message;
  if (!("unread" in summary)) merged.unread = previous?.unread ?? Math.max(0, (summary.last_seq || 0) - (summary.operator_read_seq || 0));
  state.conversations.set(summary.id, merged);
  return { previous, merged };
}

export async function loadBox(box, more = false) {
  const params = new URLSearchParams({ box });
  if (box === "queued") params.set("limit", "200"); // the whole queue, oldest first
  if (more && state.nextBefore[box]) params.set("before", state.nextBefore[box]);
  const payload = await api.get(`/app/api/conversations?${params}`);
  state.clockOffset = new Date(payload.now).getTime() - Date.now();
  const known = new Set(state.conversations.keys());
  if (!more) {
    // The server's page replaces what this box showed (items that left the box drop out).
    for (const [id, c] of state.conversations) if (inBox(c, box) && id !== state.selected) state.conversations.delete(id);
  }
  for (const summary of payload.conversations) mergeSummary(summary);
  state.nextBefore[box] = payload.next_before;
  renderList();
  if (box === "queued" && state.listsLoaded) {
    // Chats that arrived while the socket was down ring now.
    const arrived = payload.conversations.filter((c) => !known.has(c.id) && !rung.has(c.id));
    for (const c of arrived) rung.add(c.id);
    if (arrived.length) newChatAlert(state.conversations.get(arrived[0].id));
  }
}

export async function loadLists() {
  const boxes = ["queued", "mine", "open"];
  if (state.box === "closed") boxes.push("closed");
  try {
    for (const box of boxes) await loadBox(box);
    state.listsLoaded = true;
  } catch (error) {
    toast(t("chat.error", { message: error.message }));
  }
}

// A conversation the lists do not have yet (a missed `created` frame, an invitation).
export async function ensureSummary(id) {
  if (state.conversations.has(id)) return state.conversations.get(id);
  try {
    const summary = await api.get(`/app/api/conversations/${id}`);
    mergeSummary(summary);
    renderList();
    return state.conversations.get(id);
  } catch {
    return null;
  }
}

export function switchBox(box) {
  if (!BOX_KEYS.includes(box)) return;
  state.box = box;
  document.body.dataset.pane = "list";
  renderList();
  if (box === "closed") loadBox("closed").catch(() => {});
  if (box === "visitors") loadVisitors();
}

export function moveSelection(step) {
  const items = boxItems(state.box === "visitors" ? "queued" : state.box);
  if (!items.length) return;
  const index = items.findIndex((c) => c.id === state.selected);
  const next = index === -1 ? (step > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, index + step));
  openChat(items[next].id);
}
