// Typing, both ways: the operator's "is typing" line, and the visitor's draft preview sent to
// the operators through the shared throttle (the first keystroke at once, then at most one
// preview per DRAFT_EVERY ms, the latest draft always last).

import { Throttle } from "../../shared/socket.js";
import { socket } from "./connection.js";
import { $ } from "./dom.js";
import { S, t } from "./i18n.js";
import { state } from "./state.js";

const DRAFT_EVERY = 500; // 2 previews per second: under the server's 4/s, so none waits there
const DRAFT_MAX_CHARS = 500;
const OPERATOR_TYPING_SHOWN = 6000;

let typingTimer = null;
let draftOn = false;

export function typingOn(name) {
  $("pw-typing").textContent = t("typing", { name: name || S.operator });
  clearTimeout(typingTimer);
  typingTimer = setTimeout(typingOff, OPERATOR_TYPING_SHOWN);
}

export function typingOff() {
  clearTimeout(typingTimer);
  $("pw-typing").textContent = "";
}

function sendDraft() {
  if (!state.conversation || state.closed) return;
  const draft = $("pw-input").value.slice(0, DRAFT_MAX_CHARS);
  const on = draft.trim().length > 0;
  if (!on && !draftOn) return;
  draftOn = on;
  socket.raw({ type: "typing", conversation: state.conversation, on, draft });
}

const drafts = new Throttle(DRAFT_EVERY, sendDraft);

// The composer changed: the preview follows.
export function draftChanged() {
  drafts.push();
}

// The message was sent: the preview ends now, not at the next throttle tick.
export function draftSent() {
  drafts.reset();
  if (draftOn) {
    draftOn = false;
    socket.raw({ type: "typing", conversation: state.conversation, on: false, draft: "" });
  }
}
