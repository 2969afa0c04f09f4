// The visitor's websocket, through the client the dashboard uses too (static/shared/socket.js).
// This module only says what the widget does when the connection changes.

import { ParleySocket, socketUrl } from "../../shared/socket.js";
import { handleFrame } from "./chat.js";
import { $, banner } from "./dom.js";
import { S } from "./i18n.js";
import { toHost } from "./host.js";
import { boot, state } from "./state.js";

export function setComposeEnabled(enabled) {
  $("pw-input").disabled = !enabled;
  $("pw-send").disabled = !enabled;
}

function onState(status) {
  document.body.dataset.socket = status === "online" ? "open" : "closed";
  if (status === "online") {
    banner("");
    setComposeEnabled(true);
  } else if (status === "offline") {
    banner(S.reconnecting);
  }
}

function onClose(event) {
  if (event.code === 4401 && !state.tokenRenewed) {
    // The visitor token expired (a tab left open for weeks): the loader opens a new session.
    state.tokenRenewed = true;
    banner(S.reconnecting);
    toHost({ type: "expired" });
    return false;
  }
  if (event.code === 4401 || event.code === 4403) {
    banner(S.not_allowed);
    setComposeEnabled(false);
    return false;
  }
  return true;
}

// A message refused for good: after a `closed` or `not_found` about the conversation it went
// to, it starts a new one (sendFrame then names none); anything else leaves it not sent.
function onRefused(item, frame) {
  const named = Boolean(state.conversation && !state.closed);
  if (named && frame.code === "closed") {
    state.closed = true;
    return true;
  }
  if (named && frame.code === "not_found") {
    state.conversation = null;
    return true;
  }
  return false;
}

export const socket = new ParleySocket({
  url: () => (state.token ? `${socketUrl(boot.socket)}?token=${encodeURIComponent(state.token)}` : null),
  outbox: { storage: "session", key: "parley:outbox" },
  // Sent into the conversation on screen; after it closed, the message starts a new one.
  sendFrame: (item) => {
    const frame = { type: "send", client_id: item.client_id, body: item.body };
    if (item.attachments && item.attachments.length) frame.attachments = item.attachments;
    if (state.conversation && !state.closed) frame.conversation = state.conversation;
    return frame;
  },
  resumePoints: () => (state.conversation ? { [state.conversation]: state.lastSeq } : {}),
  onFrame: (frame, sent) => handleFrame(frame, sent),
  onRefused,
  onState,
  onClose,
});
