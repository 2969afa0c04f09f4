// The reply box: reply or private note, staged attachments, sending through the outbox, the
// operator's typing signal, and the composer helpers features register (js/extend.js).

import { Throttle, newClientId } from "../../shared/socket.js";
import * as api from "./api.js";
import { socket } from "./connection.js";
import { $, $$, clear, h } from "./dom.js";
import { composerHelperList } from "./extend.js";
import { t } from "./i18n.js";
import { renderChat } from "./pane.js";
import { boot, state } from "./state.js";

const TYPING_REPEAT = 3000; // "typing" again at most this often while the operator types
const TYPING_IDLE = 4000; // no keystroke for this long: "stopped typing"
const MAX_BODY = 5000;

let kind = "text";
let staged = []; // uploaded attachments waiting to be sent: {token, filename, ...}
let idleTimer = null;

// The first keystroke tells the visitor at once; then at most one signal per TYPING_REPEAT.
const typing = new Throttle(
  TYPING_REPEAT,
  () => {
    if (state.selected) socket.raw({ type: "typing", conversation: state.selected, on: true });
  },
  { trailing: false },
);

export function composeKind(next) {
  kind = next;
  for (const tab of $$(".composer-tabs [data-kind]")) tab.setAttribute("aria-selected", String(tab.dataset.kind === kind));
  $("#composer").classList.toggle("note-mode", kind === "note");
  $("#reply").placeholder = kind === "note" ? t("chat.note_placeholder") : t("chat.placeholder");
  if (kind === "note") stopTyping();
}

export function clearStaged() {
  staged = [];
  renderStaged();
}

function renderStaged() {
  const list = clear($("#staged"));
  for (const item of staged) {
    list.append(
      h(
        "li",
        { class: item.error ? "error" : "", dataset: { state: item.uploading ? "uploading" : item.error ? "error" : "ready" } },
        h("span", { text: item.uploading ? t("chat.uploading", { name: item.filename }) : item.error ? t("chat.upload_failed", { name: item.filename }) : item.filename }),
        h("button", { type: "button", class: "btn icon small", "aria-label": "×", text: "×", onclick: () => { staged = staged.filter((s) => s !== item); renderStaged(); } }),
      ),
    );
  }
}

async function uploadFiles(files) {
  const conversation = state.selected;
  for (const file of files) {
    const item = { filename: file.name, uploading: true };
    staged.push(item);
    renderStaged();
    const form = new FormData();
    form.append("file", file);
    form.append("conversation", String(conversation));
    try {
      const payload = await api.upload(boot.upload_url, form);
      const attachment = payload.attachment || payload;
      Object.assign(item, { uploading: false, token: attachment.token, view: attachment });
    } catch {
      Object.assign(item, { uploading: false, error: true });
    }
    renderStaged();
  }
}

export function sendCurrent() {
  const id = state.selected;
  const c = state.conversations.get(id);
  if (!id || !c || c.status === "closed") return;
  const textarea = $("#reply");
  const ready = staged.filter((s) => s.token);
  if (staged.some((s) => s.uploading)) return;
  let body = textarea.value.trim();
  if (!body && !ready.length) return;
  if (!body) body = ready.map((s) => s.filename).join(", ");
  const message = {
    client_id: newClientId(),
    conversation: id,
    body: body.slice(0, MAX_BODY),
    kind,
    created_at: new Date().toISOString(),
  };
  if (ready.length && kind === "text") {
    message.attachments = ready.map((s) => s.token);
    message.attachment_views = ready.map((s) => s.view);
  }
  socket.send(message);
  textarea.value = "";
  clearStaged();
  stopTyping();
  helpersInput();
  renderChat();
  $("#messages").scrollTop = $("#messages").scrollHeight;
}

function typingInput() {
  if (kind !== "text" || !state.selected) return;
  typing.push();
  clearTimeout(idleTimer);
  idleTimer = setTimeout(stopTyping, TYPING_IDLE);
}

export function stopTyping() {
  clearTimeout(idleTimer);
  if (typing.active && state.selected) socket.raw({ type: "typing", conversation: state.selected, on: false });
  typing.reset();
}

// --- composer helpers --------------------------------------------------------------------

const composer = {
  value: () => $("#reply").value,
  setValue(text) {
    const reply = $("#reply");
    reply.value = text;
    reply.dispatchEvent(new Event("input", { bubbles: true }));
  },
  insert(text) {
    const reply = $("#reply");
    const start = reply.selectionStart ?? reply.value.length;
    const end = reply.selectionEnd ?? reply.value.length;
    reply.setRangeText(text, start, end, "end");
    reply.dispatchEvent(new Event("input", { bubbles: true }));
  },
  focus: () => $("#reply").focus(),
  // An attachment already uploaded for this conversation (e.g. a canned reply's file): sent with the message.
  stage(view) {
    staged.push({ filename: view.filename, token: view.token, view });
    renderStaged();
  },
  send: () => sendCurrent(),
  conversation: () => state.conversations.get(state.selected) || null,
  kind: () => kind,
};

function helpersInput() {
  const text = $("#reply").value;
  for (const helper of composerHelperList()) helper.input?.(text, composer);
}

export function composerOpened() {
  const summary = state.conversations.get(state.selected) || null;
  for (const helper of composerHelperList()) helper.opened?.(summary, composer);
}

function mountHelpers() {
  const container = $("#composer-helpers");
  for (const helper of composerHelperList()) {
    if (!helper.mount) continue;
    const slot = h("div", { class: "composer-helper" });
    container.append(slot);
    helper.mount(slot, composer);
  }
}

// --- wiring --------------------------------------------------------------------------------

export function wireComposer() {
  mountHelpers();
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    sendCurrent();
  });
  const reply = $("#reply");
  reply.addEventListener("keydown", (event) => {
    if (composerHelperList().some((helper) => helper.keydown?.(event, composer))) return;
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing) {
      event.preventDefault();
      sendCurrent();
    }
  });
  reply.addEventListener("input", () => {
    typingInput();
    helpersInput();
  });
  reply.addEventListener("blur", stopTyping);
  $("#attach").addEventListener("change", (event) => {
    uploadFiles(Array.from(event.target.files || []));
    event.target.value = "";
  });
}
