// The pre-chat form: the visitor's name (and email and phone when the tenant asks) before the
// first message.

import { api, errorText } from "./api.js";
import { openChat } from "./chat.js";
import { $, formError } from "./dom.js";
import { toHost } from "./host.js";
import { S } from "./i18n.js";
import { greeting } from "./messages.js";
import { cfg, state } from "./state.js";
import { show } from "./views.js";

export function needsPrechat() {
  return cfg.prechat.enabled && !state.conversation && !(state.visitor && state.visitor.name);
}

export function showPrechat() {
  document.querySelector("#pw-prechat [data-greeting]").textContent = greeting();
  document.querySelector('[data-field="email"]').hidden = !cfg.prechat.email;
  document.querySelector('[data-field="phone"]').hidden = !cfg.prechat.phone;
  show("pw-prechat");
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const name = form.name.value.trim();
  const email = form.email.value.trim();
  const phone = form.phone.value.trim();
  if (!name) {
    formError(form, S.name_required);
    form.name.focus();
    return;
  }
  if (email && !form.email.checkValidity()) {
    formError(form, S.email_invalid);
    form.email.focus();
    return;
  }
  formError(form, "");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const data = await api("visitor", { name, email, phone });
    state.visitor = { ...(state.visitor || {}), ...(data && data.visitor) };
    if (email) $("pw-tr-email").value = email;
    toHost({ type: "session", session: { visitor: state.visitor } });
    openChat();
  } catch (error) {
    formError(form, errorText(error));
  } finally {
    button.disabled = false;
  }
}

export function wirePrechat() {
  $("pw-prechat").addEventListener("submit", submit);
}
