// Writing and sending: the composer, and the outbox that keeps a message until its ack.

import { newClientId } from "../../shared/socket.js";
import { socket } from "./connection.js";
import { $ } from "./dom.js";
import { scrollDown, showPending } from "./messages.js";
import { state } from "./state.js";
import { draftChanged, draftSent } from "./typing.js";

const MAX_INPUT_HEIGHT = 120;

// Shows the message as "sending" and sends it (now, or when the socket is back).
export function queueMessage(body, attachments, files) {
  const item = { client_id: newClientId(), body, attachments: attachments || [] };
  showPending(item, files);
  scrollDown();
  if (state.closed) {
    // A message after the end of a chat starts a new conversation.
    state.conversation = null;
    state.closed = false;
    $("pw-endpanel").hidden = true;
  }
  socket.send(item);
}

function grow(input) {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight + 2, MAX_INPUT_HEIGHT)}px`;
}

export function wireComposer() {
  const input = $("pw-input");
  input.addEventListener("input", () => {
    grow(input);
    draftChanged();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("pw-compose").requestSubmit();
    }
  });
  $("pw-compose").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    input.value = "";
    input.style.height = "auto";
    draftSent();
    queueMessage(body);
    input.focus();
  });
}
