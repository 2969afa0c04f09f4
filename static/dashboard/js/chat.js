// One conversation's messages: ordering by seq, gap detection, and rendering.

import { $, clear, h, link } from "./dom.js";
import { asNodes, messageRenderer, messageStateList } from "./extend.js";
import { clock, dateTime, t } from "./i18n.js";
import { me } from "./state.js";

export function newChat(summary) {
  return {
    id: summary.id,
    lastSeq: 0,
    messages: new Map(), // seq -> message payload
    buffer: new Map(), // seq -> message that arrived ahead of a gap
    resuming: false,
    visitorRead: summary.visitor_read_seq || 0,
    draft: null, // the visitor's live typing preview, never stored
    operatorsTyping: new Map(), // name -> expiry timestamp
  };
}

// Adds a message; returns "applied", "duplicate" or "gap" (a later seq arrived first).
export function applyMessage(chat, message) {
  if (message.seq <= chat.lastSeq) {
    chat.messages.set(message.seq, message); // a resend or a richer copy (an ack's): same seq, same message
    return "duplicate";
  }
  chat.buffer.set(message.seq, message);
  while (chat.buffer.has(chat.lastSeq + 1)) {
    const next = chat.buffer.get(chat.lastSeq + 1);
    chat.buffer.delete(chat.lastSeq + 1);
    chat.messages.set(next.seq, next);
    chat.lastSeq = next.seq;
  }
  return chat.buffer.size ? "gap" : "applied";
}

// System messages are stored as an event code plus names (`data`), and translated here.
export function systemText(message) {
  const data = message.data || {};
  const name = typeof data.name === "string" ? data.name : "";
  switch (data.event) {
    case "created":
      return t("sys.created");
    case "accepted":
      return t("sys.accepted", { operator: name });
    case "assigned":
      return t("sys.assigned", { operator: name });
    case "transferred":
      return t(data.to === "department" ? "sys.transferred_department" : "sys.transferred", { to: name });
    case "closed":
      return name ? t("sys.closed", { operator: name }) : t("sys.closed_plain");
    case "reopened":
      return name ? t("sys.reopened", { operator: name }) : t("sys.reopened_plain");
    case "rated":
      return data.rating === "bad" ? t("sys.rated_bad") : t("sys.rated_good");
    default:
      return message.body || t("sys.unknown");
  }
}

function attachmentView(attachment) {
  if (attachment.is_image && attachment.url) {
    return h(
      "a",
      { class: "att att-image", href: attachment.url, target: "_blank", rel: "noopener" },
      h("img", { src: attachment.url, alt: attachment.filename, loading: "lazy" }),
    );
  }
  return h("span", { class: "att att-file" }, link(attachment.url, attachment.filename));
}

// The body of a message: a feature's renderer for its kind (js/extend.js), else the plain text.
function messageBody(message, context) {
  const render = messageRenderer(message.kind);
  if (render) return h("div", { class: `msg-body msg-body-${message.kind}` }, render(message, context));
  return message.body ? h("div", { class: "msg-body", text: message.body }) : null;
}

export function messageView(message, { visitorRead = 0, pending = false, readOnly = false } = {}) {
  if (message.kind === "note" && message.data?.event === "invited") {
    return h(
      "li",
      { class: "msg msg-system msg-note-event", dataset: { seq: message.seq ?? "" } },
      h("span", { text: t("sys.invited", { by: message.data.by || "", operator: message.data.colleague || "" }) }),
      h("time", { class: "muted small", datetime: message.created_at, text: clock(message.created_at) }),
    );
  }
  if (message.kind === "system" || message.author_type === "system") {
    return h(
      "li",
      { class: "msg msg-system", dataset: { seq: message.seq ?? "" } },
      h("span", { text: systemText(message) }),
      h("time", { class: "muted small", datetime: message.created_at, text: clock(message.created_at) }),
    );
  }
  const note = message.kind === "note";
  const side = message.author_type === "visitor" ? "visitor" : "operator";
  const mine = side === "operator" && (message.author_id === me.id || pending);
  const classes = ["msg", `msg-${side}`];
  if (note) classes.push("msg-note");
  if (mine) classes.push("msg-mine");
  if (pending) classes.push("msg-pending");
  let state = "";
  if (!readOnly && side === "operator" && !note) {
    if (pending) state = t("chat.sending");
    else state = message.seq <= visitorRead ? t("chat.read") : t("chat.sent");
  }
  const author = message.author_name || t(`author.${side}`);
  return h(
    "li",
    { class: classes.join(" "), dataset: { seq: message.seq ?? "", clientId: message.client_id || "" } },
    h(
      "div",
      { class: "msg-meta" },
      note ? h("span", { class: "badge note", text: t("chat.note_badge") }) : null,
      h("span", { class: "msg-author", text: author }),
      h("time", { datetime: message.created_at || "", title: dateTime(message.created_at), text: clock(message.created_at) }),
    ),
    messageBody(message, { visitorRead, pending, readOnly }),
    (message.attachments || []).length
      ? h("div", { class: "msg-atts" }, (message.attachments || []).map(attachmentView))
      : null,
    state ? h("div", { class: "msg-state", text: state }) : null,
    ...messageStateList().flatMap((render) => asNodes(render(message)).map((node) => h("div", { class: "msg-state" }, node))),
  );
}

export function renderMessages(list, chat, outbox) {
  const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  clear(list);
  const seen = new Set();
  const ordered = Array.from(chat.messages.values()).sort((a, b) => a.seq - b.seq);
  for (const message of ordered) {
    seen.add(message.client_id);
    list.append(messageView(message, { visitorRead: chat.visitorRead }));
  }
  for (const item of outbox) {
    if (item.conversation !== chat.id || seen.has(item.client_id)) continue;
    list.append(
      messageView(
        { ...item, author_type: "operator", author_name: me.name, created_at: item.created_at, seq: null, attachments: item.attachment_views || [] },
        { pending: true },
      ),
    );
  }
  if (chat.buffer.size) list.append(h("li", { class: "msg msg-system muted", text: t("chat.gap") }));
  if (stick) list.scrollTop = list.scrollHeight;
}

export function renderTyping(chat) {
  const box = $("#typing");
  const label = $("#typing-label");
  const draft = $("#typing-draft");
  const now = Date.now();
  const others = Array.from(chat.operatorsTyping.entries())
    .filter(([, until]) => until > now)
    .map(([name]) => name);
  if (chat.draft !== null) {
    label.textContent = t("chat.visitor_typing");
    draft.textContent = chat.draft || "…";
    box.hidden = false;
  } else if (others.length) {
    label.textContent = t("chat.typing", { name: others.join(", ") });
    draft.textContent = "";
    box.hidden = false;
  } else {
    box.hidden = true;
  }
}

export function renderTranscript(list, messages) {
  clear(list);
  for (const message of messages) list.append(messageView(message, { readOnly: true }));
}
