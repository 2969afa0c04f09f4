// The conversation on screen: which one it is, what of it we have seen (seq), and what each
// frame from /ws/widget/ does to it (docs/protocol.md).

import { RESEND_ON } from "../../shared/socket.js";
import { socket } from "./connection.js";
import { $ } from "./dom.js";
import { dispatchExtensions } from "./extend.js";
import { addGreeting, showMessage, showNotSent, showOperatorRead, showPending, showRetrying } from "./messages.js";
import { endOfChat, reopened } from "./rating.js";
import { typingOff, typingOn } from "./typing.js";
import { countUnread } from "./unread.js";
import { REPLAY_LIMIT, readStore, state } from "./state.js";
import { show } from "./views.js";

let resumeTimer = null;

export function openChat() {
  show("pw-chat");
  if (!$("pw-log").querySelector(".pw-greet")) addGreeting();
  // Messages not acknowledged before the last page was left are shown and sent again.
  for (const item of socket.outbox.items) showPending(item);
  socket.connect();
}

export function adoptConversation(id) {
  if (state.conversation === id) return;
  state.conversation = id;
  state.closed = false;
  state.lastSeq = 0;
  state.seen = new Set();
  state.readSeq = Number(readStore(`parley:read:${id}`) || 0);
  $("pw-end").hidden = false;
}

// The visitor leaves the conversation on screen (a new chat after the end of one).
export function forgetConversation() {
  state.conversation = null;
  state.closed = false;
  state.lastSeq = 0;
  state.seen = new Set();
  state.byClientId.clear();
}

function requestResume() {
  clearTimeout(resumeTimer);
  resumeTimer = setTimeout(() => socket.resume(), 150);
}

function noteSeq(seq) {
  state.seen.add(seq);
  while (state.seen.has(state.lastSeq + 1)) state.lastSeq += 1;
  if (seq > state.lastSeq) requestResume(); // a hole: ask the server what we missed
}

const handlers = {
  ack(frame, sent) {
    if (!state.conversation || state.closed) adoptConversation(frame.conversation);
    if (frame.conversation !== state.conversation) return;
    // The ack carries the stored message; without it, what the visitor typed stays on screen.
    const shown = state.byClientId.get(frame.client_id)?.querySelector(".pw-bubble").textContent;
    const message = frame.message || { seq: frame.seq, client_id: frame.client_id, body: sent ? sent.body : shown };
    showMessage({ ...message, author_type: "visitor" });
    noteSeq(frame.seq);
  },
  message(frame) {
    const message = frame.message;
    if (!message) return;
    if (!state.conversation) adoptConversation(frame.conversation);
    if (frame.conversation !== state.conversation) return;
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
  },
  hello(frame) {
    if (frame.conversation && !state.conversation) {
      adoptConversation(frame.conversation);
      socket.resume();
    }
  },
  resumed(frame) {
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
  },
  typing(frame) {
    if (frame.conversation === state.conversation && frame.side === "operator") {
      if (frame.on) typingOn(frame.name);
      else typingOff();
    }
  },
  read(frame) {
    if (frame.conversation === state.conversation && frame.side === "operator") showOperatorRead(frame.seq);
  },
  conversation(frame) {
    const summary = frame.conversation || {};
    if (summary.id !== undefined && summary.id !== state.conversation) return;
    if (frame.event === "closed") endOfChat();
    else if (frame.event === "reopened") reopened();
  },
  error(frame, sent) {
    // A refused message (shared/socket.js): waiting for its resend, sent again into a new
    // conversation (connection.js), or refused for good.
    if (!sent) return;
    if (!socket.outbox.has(sent.client_id)) showNotSent(sent.client_id, frame.message);
    else if (RESEND_ON.includes(frame.code)) showRetrying(sent.client_id);
  },
};

export function handleFrame(frame, sent) {
  const handle = Object.prototype.hasOwnProperty.call(handlers, frame.type) ? handlers[frame.type] : null;
  if (handle) handle(frame, sent);
  dispatchExtensions(frame);
}
