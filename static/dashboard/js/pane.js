// The chat pane: opening a conversation, its header (status, actions, banner) and its messages.

import * as api from "./api.js";
import { toast } from "./attention.js";
import { loadCard } from "./card.js";
import { applyMessage, newChat, renderMessages, renderTyping } from "./chat.js";
import { clearStaged, composeKind, composerOpened } from "./composer.js";
import { socket } from "./connection.js";
import { $, clear } from "./dom.js";
import { asNodes, headerStatusList } from "./extend.js";
import { t } from "./i18n.js";
import { mergeSummary, renderList, visitorName } from "./list.js";
import { me, state } from "./state.js";

// The open chat is the one whose bodies, drafts and read receipts this page asks for
// (docs/protocol.md, "watch"); the others change through the lists' compact `list` frames.
export function watchOpenChat() {
  if (state.watching !== null && state.watching !== state.selected) {
    socket.raw({ type: "unwatch", conversation: state.watching });
  }
  if (state.selected !== null) socket.raw({ type: "watch", conversation: state.selected });
  state.watching = state.selected;
}

export async function openChat(id) {
  const switched = state.selected !== id;
  state.selected = id;
  if (switched) watchOpenChat();
  composeKind("text");
  document.body.dataset.pane = "chat";
  $("#chat-empty").hidden = true;
  $("#chat-body").hidden = false;
  clearStaged();
  renderList();
  renderChatHead();
  composerOpened();
  let chat = state.chats.get(id);
  if (!chat || chat.stub) {
    const summary = state.conversations.get(id) || { id };
    const draft = chat ? chat.draft : null;
    chat = newChat(summary);
    chat.draft = draft;
    state.chats.set(id, chat);
    clear($("#messages"));
    try {
      // The newest page: older messages load as the operator scrolls up (loadOlder).
      const payload = await api.get(`/app/api/conversations/${id}/messages`);
      mergeSummary(payload.conversation);
      if (payload.messages.length) chat.lastSeq = payload.messages[0].seq - 1;
      for (const message of payload.messages) applyMessage(chat, message);
      chat.older = payload.has_older ? payload.before : null;
      chat.visitorRead = payload.conversation.visitor_read_seq || 0;
    } catch (error) {
      state.chats.delete(id);
      toast(t("chat.error", { message: error.message }));
      return;
    }
    if (state.selected !== id) return;
    renderChatHead();
  } else if (switched && chat.lastSeq > 0) {
    // Loaded earlier, unwatched since: what arrived meanwhile comes by seq.
    socket.resume({ [id]: chat.lastSeq });
  }
  renderChat();
  renderTyping(chat);
  markRead(id);
  const summary = state.conversations.get(id);
  if (summary?.visitor?.id) loadCard(summary.visitor.id); // fresh: pages and earlier chats change
  $("#messages").scrollTop = $("#messages").scrollHeight;
}

// Scrolled near the top of a conversation with more above: fetch the page above, keep the view still.
let loadingOlder = false;
export async function loadOlder() {
  const chat = state.chats.get(state.selected);
  if (!chat || !chat.older || loadingOlder) return;
  loadingOlder = true;
  const list = $("#messages");
  try {
    const payload = await api.get(`/app/api/conversations/${chat.id}/messages?before=${chat.older}`);
    for (const message of payload.messages) chat.messages.set(message.seq, message);
    chat.older = payload.has_older ? payload.before : null;
    if (state.selected !== chat.id) return;
    const fromBottom = list.scrollHeight - list.scrollTop;
    renderChat();
    list.scrollTop = list.scrollHeight - fromBottom;
  } catch (error) {
    toast(t("chat.error", { message: error.message }));
  } finally {
    loadingOlder = false;
  }
}

export function watchScrollBack() {
  $("#messages").addEventListener("scroll", (event) => {
    if (event.target.scrollTop < 120) loadOlder();
  }, { passive: true });
}

export function renderChat() {
  const chat = state.chats.get(state.selected);
  if (!chat) return;
  renderMessages($("#messages"), chat, socket.outbox.items);
}

export function renderChatHead() {
  const c = state.conversations.get(state.selected);
  if (!c) return;
  $("#chat-name").textContent = visitorName(c);
  const status = $("#chat-status");
  status.textContent = t(`status.${c.status}`);
  status.className = `badge status-${c.status}`;
  const extra = clear($("#chat-extra"));
  for (const render of headerStatusList()) extra.append(...asNodes(render(c)));
  extra.hidden = !extra.firstChild;
  $("#chat-sub").textContent = [c.assignee?.name, c.department?.name, c.visitor?.email].filter(Boolean).join(" · ");
  const mine = c.assignee?.id === me.id;
  $("#act-accept").hidden = c.status !== "queued";
  $("#act-close").hidden = c.status === "closed";
  $("#act-reopen").hidden = c.status !== "closed";
  $("#act-transfer").hidden = c.status === "closed";
  $("#act-invite").hidden = c.status === "closed";
  const banner = $("#chat-banner");
  let text = "";
  if (c.status === "queued") text = t("chat.queued");
  else if (c.status === "closed") text = t("chat.closed");
  else if (c.assignee && !mine) text = t("chat.other_assignee", { name: c.assignee.name });
  banner.textContent = text;
  banner.hidden = !text;
  const closed = c.status === "closed";
  $("#reply").disabled = closed;
  $("#send").disabled = closed;
}

export function markRead(id) {
  const c = state.conversations.get(id);
  const chat = state.chats.get(id);
  if (!c || !chat || document.visibilityState !== "visible") return;
  if (chat.lastSeq && (c.unread || (c.operator_read_seq || 0) < chat.lastSeq)) {
    socket.raw({ type: "read", conversation: id, seq: chat.lastSeq });
    c.operator_read_seq = chat.lastSeq;
  }
  if (c.unread) {
    c.unread = 0;
    renderList();
  }
}
