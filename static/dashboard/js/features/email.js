// Email conversations in the dashboard: a message that arrived by mail shows its subject, sender
// and recipients, the new text, the quoted history folded (fetched on demand), attachments kept
// only in the original; an operator's reply shows whether the mail left; lists mark the channel.

import { get, upload } from "../api.js";
import { h } from "../dom.js";
import {
  onFrameType,
  registerCardSection,
  registerHeaderStatus,
  registerListBadge,
  registerMessageRenderer,
  registerMessageState,
} from "../extend.js";
import { t } from "../i18n.js";
import { state } from "../state.js";

function addresses(list) {
  return (Array.isArray(list) ? list : []).filter((item) => typeof item === "string").join(", ");
}

function fullText(message) {
  const details = h("details", { class: "email-quoted" }, h("summary", { text: t("email.show_full") }));
  details.addEventListener("toggle", async () => {
    if (!details.open || details.dataset.loaded) return;
    details.dataset.loaded = "1";
    const holder = h("pre", { class: "email-full", text: t("email.loading") });
    details.append(holder);
    try {
      const data = await get(`/email/messages/${encodeURIComponent(message.id)}/full`);
      holder.textContent = data.text || "";
    } catch {
      holder.textContent = t("err.network");
      delete details.dataset.loaded;
    }
  });
  return details;
}

registerMessageRenderer("email", (message) => {
  const email = message.data?.email || {};
  const from = email.from_name ? `${email.from_name} <${email.from || ""}>` : email.from || "";
  const to = addresses(email.to);
  const cc = addresses(email.cc);
  const skipped = Array.isArray(email.attachments_skipped) ? email.attachments_skipped : [];
  return h(
    "div",
    { class: "email" },
    h(
      "div",
      { class: "email-head" },
      email.subject ? h("div", { class: "email-subject", text: email.subject }) : null,
      from ? h("div", { class: "email-addr", text: t("email.from", { from }) }) : null,
      to ? h("div", { class: "email-addr", text: t("email.to", { to }) }) : null,
      cc ? h("div", { class: "email-addr", text: t("email.cc", { cc }) }) : null,
    ),
    h("div", { class: "email-text", text: message.body || "" }),
    email.quoted || email.truncated ? fullText(message) : null,
    skipped.length
      ? h(
          "ul",
          { class: "email-skipped" },
          skipped.map((item) =>
            h("li", { text: t("email.too_large", { name: item.filename || "", kb: Math.round((item.size || 0) / 1024) }) }),
          ),
        )
      : null,
  );
});

registerListBadge((summary) =>
  summary.channel === "email" ? h("span", { class: "badge channel-email", text: t("email.badge") }) : null,
);

registerHeaderStatus((summary) =>
  summary.channel === "email"
    ? h("span", { class: "email-channel", text: summary.subject ? t("email.header", { subject: summary.subject }) : t("email.badge") })
    : null,
);

// "Email this visitor" at the end of the visitor card: a new email conversation, with files,
// even when the visitor left the site long ago; the answer threads back into it.
registerCardSection((card) => {
  const form = h(
    "form",
    { class: "email-start", enctype: "multipart/form-data" },
    h("label", { class: "field" }, h("span", { text: t("email.start_to") }), h("input", { name: "to", type: "email", required: true, value: card.email || "", maxlength: 254 })),
    h("label", { class: "field" }, h("span", { text: t("email.start_subject") }), h("input", { name: "subject", type: "text", required: true, maxlength: 300 })),
    h("label", { class: "field" }, h("span", { text: t("email.start_body") }), h("textarea", { name: "body", rows: 4, required: true, maxlength: 5000 })),
    h("label", { class: "field" }, h("span", { text: t("email.start_files") }), h("input", { name: "files", type: "file", multiple: true })),
    h("div", { class: "row" }, h("button", { type: "submit", class: "btn small primary", text: t("email.start_send") })),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    data.set("visitor", String(card.id));
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const created = await upload("/email/start/", data);
      form.reset();
      state.actions.toast(t("email.start_sent"));
      state.actions.openChat(created.conversation);
    } catch (error) {
      state.actions.toast(t("chat.error", { message: error.message }));
    } finally {
      button.disabled = false;
    }
  });
  return h("details", { class: "email-start-box" }, h("summary", { text: t("email.start") }), form);
});

// Whether an operator's reply left as email: "sending", "sent", "failed" (with the mail server's
// answer on hover), updated live by `email.status` frames. A frame may come before the message
// itself (the mail leaves while the ack is on its way), so the newest state is kept by message id;
// a final state (sent, failed) is never replaced by an older "queued".
const latestDelivery = new Map(); // message id -> email_delivery

function newer(current, incoming) {
  if (!current || !incoming) return current || incoming;
  return current.status !== "queued" && incoming.status === "queued" ? current : incoming;
}

function deliveryState(message) {
  const stored = message.data?.email_delivery;
  const delivery = newer(stored && typeof stored === "object" ? stored : null, latestDelivery.get(message.id) || null);
  if (!delivery || typeof delivery !== "object") return null;
  const to = typeof delivery.to === "string" ? delivery.to : "";
  const status = ["sent", "failed"].includes(delivery.status) ? delivery.status : "queued";
  return h("span", {
    class: `email-state email-state-${status}`,
    dataset: { messageId: message.id ?? "" },
    title: status === "failed" && typeof delivery.error === "string" ? delivery.error : "",
    text: t(`email.state_${status}`, { to }),
  });
}

registerMessageState(deliveryState);

onFrameType("email.status", (frame) => {
  if (!frame.email_delivery || typeof frame.email_delivery !== "object") return;
  latestDelivery.set(frame.message, newer(latestDelivery.get(frame.message), frame.email_delivery));
  const message = state.chats.get(frame.conversation)?.messages.get(frame.seq);
  if (!message || message.id !== frame.message) return; // rendered later with the state kept above
  const updated = deliveryState(message);
  const shown = document.querySelector(`.email-state[data-message-id="${CSS.escape(String(message.id))}"]`);
  if (shown && updated) shown.replaceWith(updated);
  else if (updated && state.selected === frame.conversation) document.querySelector(`#messages li[data-seq="${frame.seq}"]`)?.append(h("div", { class: "msg-state" }, updated));
});
