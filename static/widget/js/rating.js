// The end of a chat: "End chat", the panel with the rating and the transcript by email, and
// "Start a new chat".

import { api, errorText } from "./api.js";
import { forgetConversation } from "./chat.js";
import { $, formError } from "./dom.js";
import { S, t } from "./i18n.js";
import { addGreeting, scrollDown } from "./messages.js";
import { state } from "./state.js";
import { typingOff } from "./typing.js";

let chosenRating = "";

export function reopened() {
  state.closed = false;
  $("pw-endpanel").hidden = true;
  $("pw-endpanel").classList.remove("pw-closed");
  $("pw-end").hidden = false;
}

export function endOfChat() {
  state.closed = true;
  typingOff();
  $("pw-end").hidden = true;
  $("pw-endpanel").hidden = false;
  $("pw-endpanel").classList.add("pw-closed");
  $("pw-rate").hidden = false;
  scrollDown();
}

function scrollPanel() {
  const panel = $("pw-endpanel");
  panel.scrollTop = panel.scrollHeight;
}

function rateButtons() {
  return document.querySelectorAll(".pw-rate-btn");
}

async function endChat() {
  if (!state.conversation) return;
  try {
    await api("end", { conversation: state.conversation });
  } catch {
    /* the panel shows anyway; the operator closes the chat later */
  }
  endOfChat();
  $("pw-rate").querySelector(".pw-rate-btn").focus();
}

function choose(button) {
  chosenRating = button.dataset.rating;
  for (const other of rateButtons()) other.setAttribute("aria-pressed", String(other === button));
  $("pw-rate").querySelector(".pw-rate-more").hidden = false;
  scrollPanel();
}

async function submitRating(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (!chosenRating) {
    form.querySelector(".pw-rate-btn").focus();
    return;
  }
  try {
    await api("rating", { conversation: state.conversation, rating: chosenRating, comment: form.comment.value });
    for (const node of form.querySelectorAll(".pw-rate-more, .pw-rate-buttons, h2")) node.hidden = true;
    form.querySelector("[data-done]").hidden = false;
  } catch (error) {
    form.querySelector("[data-done]").hidden = false;
    form.querySelector("[data-done]").textContent = errorText(error);
  }
}

async function submitTranscript(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const email = form.email.value.trim();
  if (!email || !form.email.checkValidity()) {
    formError(form, S.email_invalid);
    form.email.focus();
    return;
  }
  formError(form, "");
  try {
    await api("transcript", { conversation: state.conversation, email });
    const done = form.querySelector("[data-done]");
    done.textContent = t("transcript_sent", { email });
    done.hidden = false;
  } catch (error) {
    formError(form, errorText(error));
  }
}

function newChat() {
  forgetConversation();
  chosenRating = "";
  $("pw-log").replaceChildren();
  addGreeting();
  $("pw-endpanel").hidden = true;
  $("pw-endpanel").classList.remove("pw-closed");
  const rate = $("pw-rate");
  for (const node of rate.querySelectorAll(".pw-rate-buttons, h2")) node.hidden = false;
  rate.querySelector(".pw-rate-more").hidden = true;
  rate.querySelector("[data-done]").hidden = true;
  rate.reset();
  for (const other of rateButtons()) other.setAttribute("aria-pressed", "false");
  $("pw-transcript").querySelector("[data-done]").hidden = true;
  $("pw-input").focus();
}

export function wireRating() {
  $("pw-end").addEventListener("click", endChat);
  for (const button of rateButtons()) button.addEventListener("click", () => choose(button));
  $("pw-rate").addEventListener("submit", submitRating);
  $("pw-transcript").addEventListener("submit", submitTranscript);
  $("pw-new").addEventListener("click", newChat);
}
