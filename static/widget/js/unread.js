// The launcher's unread badge and the visitor's read receipts.

import { socket } from "./connection.js";
import { toHost } from "./host.js";
import { state, writeStore } from "./state.js";

export function countUnread() {
  if (state.open && document.visibilityState === "visible") {
    markRead();
    return;
  }
  state.unread += 1;
  toHost({ type: "unread", count: state.unread });
}

export function markRead() {
  if (!state.conversation || !state.open || document.visibilityState !== "visible") return;
  if (state.lastSeq > state.readSeq) {
    state.readSeq = state.lastSeq;
    writeStore(`parley:read:${state.conversation}`, String(state.readSeq));
    socket.raw({ type: "read", conversation: state.conversation, seq: state.readSeq });
  }
  if (state.unread) {
    state.unread = 0;
    toHost({ type: "unread", count: 0 });
  }
}
