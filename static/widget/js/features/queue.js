// The queue in the chat iframe: while nobody has accepted the chat, the visitor sees the tenant's
// queue message, their place in line and an estimated wait, updated live by `queue` frames (sent
// only when the place changes); after the retention phrase, a field for an email address so the
// conversation can go on by email (stored on the visitor).

import { api, errorText } from "../api.js";
import { $, el } from "../dom.js";
import { onFrameType, setHeaderStatus } from "../extend.js";
import { S, t } from "../i18n.js";
import { state } from "../state.js";

let box = null;

function queueBox() {
  if (!box) {
    box = el("div", "pw-queue");
    box.id = "pw-queue";
    box.setAttribute("role", "status");
    $("pw-chat").insertBefore(box, $("pw-typing"));
  }
  return box;
}

function etaText(eta) {
  if (typeof eta !== "number" || eta <= 0) return "";
  if (eta < 60) return S.queue_eta_soon;
  return t("queue_eta", { minutes: Math.round(eta / 60) });
}

function show(queue) {
  if (!queue || !queue.position) {
    box?.querySelector(".pw-queue-info")?.remove();
    if (box && !box.childElementCount) {
      box.remove();
      box = null;
    }
    setHeaderStatus("queue", null);
    return;
  }
  const place = t("queue_position", { position: queue.position });
  const info = el("div", "pw-queue-info");
  info.append(el("p", "pw-queue-message", queue.message || S.queue_message), el("p", "pw-queue-place", place));
  const eta = etaText(queue.eta);
  if (eta) info.append(el("p", "pw-queue-eta", eta));
  const container = queueBox();
  container.querySelector(".pw-queue-info")?.remove();
  container.prepend(info);
  setHeaderStatus("queue", place);
}

function askEmail(conversation) {
  if ((state.visitor && state.visitor.email) || $("pw-queue-email")) return;
  const form = el("form", "pw-queue-email");
  form.id = "pw-queue-email";
  form.noValidate = true;
  const label = el("label", "", S.queue_email_prompt);
  const input = el("input");
  input.type = "email";
  input.name = "email";
  input.required = true;
  input.maxLength = 254;
  input.autocomplete = "email";
  label.append(input);
  const button = el("button", "pw-secondary", S.queue_email_submit);
  button.type = "submit";
  const error = el("p", "pw-error");
  error.dataset.error = "";
  form.append(label, button, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.value.trim() || !input.checkValidity()) {
      error.textContent = S.email_invalid;
      input.focus();
      return;
    }
    try {
      const answer = await api("queue/email", { conversation, email: input.value.trim() });
      state.visitor = { ...(state.visitor || {}), email: answer.visitor.email };
      form.replaceChildren(el("p", "pw-queue-thanks", t("queue_email_thanks", { email: answer.visitor.email })));
    } catch (failure) {
      error.textContent = errorText(failure);
    }
  });
  queueBox().append(form);
}

onFrameType("queue", (frame) => {
  if (frame.conversation === state.conversation) show(frame);
});

onFrameType("message", (frame) => {
  const data = frame.message && frame.message.data;
  if (data && data.event === "retention" && data.ask_email) askEmail(frame.conversation);
  // An operator's first words end the wait.
  if (frame.message && frame.message.author_type === "operator") show(null);
});

onFrameType("conversation", (frame) => {
  const c = frame.conversation || {};
  if (c.id === state.conversation && c.status && c.status !== "queued") show(null);
});

async function fetchPlace(conversation) {
  try {
    const answer = await api("queue/state", { conversation });
    if (conversation === state.conversation) show(answer.queue);
  } catch {
    // the next frame tells it
  }
}

// After every (re)connect: the place in line as the server has it now.
onFrameType("hello", () => {
  if (state.conversation) fetchPlace(state.conversation);
});

// The first message of a new chat: its socket joins the chat's broadcasts only with this ack, after
// routing queued it, so the first place is read once over HTTP; later changes come as frames.
const asked = new Set();
onFrameType("ack", (frame) => {
  if (!frame.conversation || asked.has(frame.conversation)) return;
  asked.add(frame.conversation);
  fetchPlace(frame.conversation);
});
