// What each frame from /ws/app/ does to the dashboard (docs/protocol.md). Frame types a feature
// adds are handled by its own module through onFrameType (js/extend.js).

import { accepting, renderStatus } from "./actions.js";
import * as api from "./api.js";
import { newChatAlert, rung, toast } from "./attention.js";
import { refreshCardIfShowing, renderVisitors, upsertVisitor } from "./card.js";
import { applyMessage, newChat, renderTyping } from "./chat.js";
import { socket } from "./connection.js";
import { dispatchExtensions } from "./extend.js";
import { t } from "./i18n.js";
import { boxItems, ensureSummary, mergeSummary, renderList, visitorName } from "./list.js";
import * as notify from "./notify.js";
import { markRead, openChat, renderChat, renderChatHead } from "./pane.js";
import { me, state } from "./state.js";

const OPERATOR_TYPING_SHOWN = 6000;

// A chat waits in the queue and its visitor wrote: ring once, after the list shows it.
function ringIfWaiting(c, fromVisitor) {
  if (c && c.status === "queued" && fromVisitor && !rung.has(c.id)) {
    rung.add(c.id);
    setTimeout(() => newChatAlert(c), 0);
  }
}

// The body of a message, for the chats this socket watches (the open one, the operator's own);
// every other chat changes through `list` items (onList).
function onMessage(conversationId, message) {
  const c = state.conversations.get(conversationId);
  ringIfWaiting(c, message.author_type === "visitor");
  if (!c) {
    // Its `created` frame was missed (a reconnect): load it, and ring if it waits.
    ensureSummary(conversationId).then((loaded) => {
      if (loaded?.status === "queued" && message.author_type === "visitor" && !rung.has(conversationId)) {
        rung.add(conversationId);
        newChatAlert(loaded);
      }
    });
  } else if (!c.last_seq || message.seq >= c.last_seq) {
    // Counted once per seq: the `list` item of the same message may have come first.
    const counted = message.seq <= (c.last_seq || 0);
    c.last_seq = message.seq;
    c.last_message = message;
    c.last_message_at = message.created_at;
    const looking = state.selected === conversationId && document.visibilityState === "visible";
    if (message.author_type === "visitor" && !looking && !counted) c.unread = (c.unread || 0) + 1;
  }
  const chat = state.chats.get(conversationId);
  if (chat && message.author_type === "visitor") chat.draft = null;
  if (chat && !chat.stub) {
    const result = applyMessage(chat, message);
    if (result === "gap" && !chat.resuming) {
      chat.resuming = true;
      socket.resume({ [conversationId]: chat.lastSeq });
    }
    if (state.selected === conversationId) {
      renderChat();
      renderTyping(chat);
      markRead(conversationId);
    }
  }
  renderList();
}

// The lists' compact updates (docs/protocol.md, "list"): last message, unread, status. Items may
// be merged and may come after the body of the same message: everything is applied by seq.
function onListItem(item) {
  const c = state.conversations.get(item.id);
  if (!c) {
    // Not in the lists yet (its `created` frame was missed): load it, and ring if it waits.
    if (item.visitor_seqs?.length) ensureSummary(item.id).then((loaded) => ringIfWaiting(loaded, true));
    return;
  }
  if (item.last_message && item.last_seq > (c.last_seq || 0)) {
    const looking = state.selected === item.id && document.visibilityState === "visible";
    const fresh = (item.visitor_seqs || []).filter((seq) => seq > (c.last_seq || 0) && seq > (c.operator_read_seq || 0));
    if (!looking) c.unread = (c.unread || 0) + fresh.length;
    c.last_seq = item.last_seq;
    c.last_message = item.last_message;
    c.last_message_at = item.last_message_at;
    ringIfWaiting(c, fresh.length > 0);
    const chat = state.chats.get(item.id);
    if (chat && item.last_message.author_type === "visitor") chat.draft = null;
  }
  if (item.operator_read_seq !== undefined) {
    c.operator_read_seq = Math.max(c.operator_read_seq || 0, item.operator_read_seq);
    if ((c.last_seq || 0) <= c.operator_read_seq) c.unread = 0;
  }
}

function onList(frame) {
  for (const item of frame.conversations || []) onListItem(item);
  renderList();
}

function onConversation(event, summary) {
  const { previous, merged } = mergeSummary(summary);
  const wasMine = previous?.assignee?.id === me.id;
  const routedToMe = event === "assigned" && previous?.status === "queued" && !accepting.has(merged.id);
  if (event === "transferred" && merged.status === "queued") newChatAlert(merged); // back in the queue, for a department
  else if (!wasMine && merged.assignee?.id === me.id && (event === "transferred" || routedToMe)) {
    notify.chime();
    notify.blinkTitle(t("notify.transferred"));
    notify.desktopNotify(t("notify.transferred"), visitorName(merged), () => openChat(merged.id));
    toast(t("notify.transferred"));
  }
  if (merged.status !== "queued" && !boxItems("queued").length) notify.stopBlinking();
  if (state.selected === merged.id) renderChatHead();
  renderList();
}

function onTyping(frame) {
  const chat = state.chats.get(frame.conversation);
  if (frame.side === "visitor") {
    const c = state.conversations.get(frame.conversation);
    if (chat) chat.draft = frame.on ? frame.draft ?? "" : null;
    else if (c) {
      // Not open: keep the preview for the list only.
      state.chats.set(frame.conversation, Object.assign(newChat(c), { lastSeq: -1, draft: frame.on ? frame.draft ?? "" : null, stub: true }));
    }
    renderList();
  } else if (chat && frame.name && frame.name !== me.name) {
    if (frame.on) chat.operatorsTyping.set(frame.name, Date.now() + OPERATOR_TYPING_SHOWN);
    else chat.operatorsTyping.delete(frame.name);
  }
  if (chat && state.selected === frame.conversation) renderTyping(chat);
}

function onRead(frame) {
  const c = state.conversations.get(frame.conversation);
  const chat = state.chats.get(frame.conversation);
  if (frame.side === "visitor") {
    if (c) c.visitor_read_seq = frame.seq;
    if (chat) chat.visitorRead = Math.max(chat.visitorRead, frame.seq);
    if (chat && state.selected === frame.conversation) renderChat();
  } else if (c) {
    c.operator_read_seq = Math.max(c.operator_read_seq || 0, frame.seq);
    if ((c.last_seq || 0) <= frame.seq) c.unread = 0;
    renderList();
  }
}

// A gap the socket could not fill: ask the database over HTTP.
async function refetchChat(chat) {
  try {
    let payload;
    let pages = 0;
    do {
      payload = await api.get(`/app/api/conversations/${chat.id}/messages?after=${chat.lastSeq}&limit=500`);
      for (const message of payload.messages) applyMessage(chat, message);
      pages += 1;
    } while (payload.has_newer && pages < 20);
    chat.buffer.clear();
    if (state.selected === chat.id) renderChat();
  } catch {
    // The next reconnect resumes again.
  }
}

function onResumed(frame) {
  for (const id of Object.keys(frame.conversations || {})) {
    const chat = state.chats.get(Number(id));
    if (!chat) continue;
    chat.resuming = false;
    if (chat.buffer.size) refetchChat(chat);
  }
}

function onPresence(frame) {
  if (state.team) {
    const operator = state.team.operators.find((o) => o.id === frame.operator.id);
    if (operator) operator.status = frame.operator.status;
  }
  if (frame.operator.id === me.id) {
    me.status = frame.operator.status;
    renderStatus();
  }
}

function onNotice(frame) {
  if (frame.event !== "invited") return;
  notify.chime();
  notify.blinkTitle(t("notify.invited", { name: frame.by }));
  notify.desktopNotify(t("notify.title"), t("notify.invited", { name: frame.by }), () => openChat(frame.conversation));
  toast(t("notify.invited", { name: frame.by }));
  ensureSummary(frame.conversation);
}

function onVisitor(frame) {
  if (frame.event === "invited") {
    const visitor = state.visitors.find((v) => v.id === frame.visitor);
    if (visitor) visitor.in_chat = true;
    renderVisitors();
  } else if (frame.visitor && typeof frame.visitor === "object") {
    upsertVisitor({
      id: frame.visitor.id,
      name: frame.visitor.name || frame.visitor.email || "",
      current_url: frame.visitor.current_url,
      current_title: frame.visitor.current_title,
      last_seen_at: frame.visitor.last_seen_at,
      ...(frame.visitor.visit_started_at ? { visit_started_at: frame.visitor.visit_started_at } : {}),
    });
    refreshCardIfShowing(frame.visitor.id);
  }
}

function onError(frame) {
  // A refused send already left the outbox, or waits there for its resend (shared/socket.js).
  toast(t("chat.error", { message: frame.message || frame.code }));
  if (state.selected) renderChat();
}

const handlers = {
  message: (frame) => frame.message && onMessage(frame.conversation, frame.message),
  ack: (frame) => frame.message && onMessage(frame.conversation, frame.message),
  conversation: (frame) => frame.conversation && onConversation(frame.event, frame.conversation),
  list: onList,
  typing: onTyping,
  read: onRead,
  resumed: onResumed,
  presence: onPresence,
  notice: onNotice,
  visitor: onVisitor,
  error: onError,
};

export function onFrame(frame) {
  const handle = Object.prototype.hasOwnProperty.call(handlers, frame.type) ? handlers[frame.type] : null;
  if (handle) handle(frame);
  dispatchExtensions(frame);
}
