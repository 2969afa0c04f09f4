// The offline form: when nobody is online and the tenant says so, the visitor leaves a message
// that the team answers by email.

import { api, errorText } from "./api.js";
import { $, formError } from "./dom.js";
import { S } from "./i18n.js";
import { cfg, state } from "./state.js";
import { show } from "./views.js";

export function wantsContactForm() {
  return !state.conversation && !cfg.online && cfg.offline === "form";
}

export function showContactForm() {
  $("pw-c-name").value = (state.visitor && state.visitor.name) || "";
  $("pw-c-email").value = (state.visitor && state.visitor.email) || "";
  show("pw-contact");
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  for (const field of [form.name, form.email, form.message]) {
    if (!field.value.trim() || !field.checkValidity()) {
      formError(form, field === form.email ? S.email_invalid : S.required);
      field.focus();
      return;
    }
  }
  formError(form, "");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api("contact", {
      key: cfg.key,
      anonymous_id: state.anonymousId,
      name: form.name.value.trim(),
      email: form.email.value.trim(),
      message: form.message.value,
      url: (state.page && state.page.url) || "",
    });
    for (const node of form.querySelectorAll("input, textarea, button, label")) node.hidden = true;
    form.querySelector("[data-done]").hidden = false;
  } catch (error) {
    formError(form, errorText(error));
    button.disabled = false;
  }
}

export function wireContactForm() {
  $("pw-contact").addEventListener("submit", submit);
}
