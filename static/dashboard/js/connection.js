// The operator's websocket (/ws/app/), through the client the widget uses too
// (static/shared/socket.js). This module says what the dashboard does when it changes.

import { ParleySocket, socketUrl } from "../../shared/socket.js";
import { loadVisitors } from "./card.js";
import { $ } from "./dom.js";
import { onFrame } from "./frames.js";
import { t } from "./i18n.js";
import { loadLists } from "./list.js";
import { watchOpenChat } from "./pane.js";
import { boot, me, state } from "./state.js";

function onState(status, seconds) {
  const el = $("#conn");
  el.dataset.state = status === "closed" ? "offline" : status;
  if (status === "online") el.textContent = t("conn.online");
  else if (status === "offline") el.textContent = t("conn.offline", { seconds });
  else el.textContent = t("conn.connecting");
}

function resumePoints() {
  const points = {};
  for (const chat of state.chats.values()) if (!chat.stub && chat.lastSeq > 0) points[chat.id] = chat.lastSeq;
  return points;
}

function onClose(event) {
  if (event.code === 4401) {
    window.location.reload(); // the session is gone: the login page takes over
    return false;
  }
  return true;
}

export const socket = new ParleySocket({
  url: () => socketUrl(boot.socket),
  outbox: { storage: "local", key: `parley.outbox.${boot.tenant.id}.${me.user}` },
  resumePoints,
  onFrame: (frame) => onFrame(frame),
  onState,
  onClose,
  onOpen: (reconnected) => {
    // A new socket watches nothing yet: ask for the open chat again (the resume that follows fills the gap).
    if (state.selected !== null) watchOpenChat();
    if (!reconnected) return;
    loadLists(); // what changed while the socket was down
    if (state.box === "visitors") loadVisitors();
  },
});
