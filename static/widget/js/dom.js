// Small DOM helpers. Every text from the network is inserted with textContent, never as HTML.

import { state } from "./state.js";

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Only http(s) and our own blob: previews become links or images; javascript: and data: never do.
export function safeUrl(url) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url, window.location.href);
    if (parsed.protocol === "blob:") return parsed.href;
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return null;
    // Our own attachment URLs need the visitor token: an <img> cannot send a header.
    if (parsed.origin === window.location.origin && state.token) parsed.searchParams.set("token", state.token);
    return parsed.href;
  } catch {
    return null;
  }
}

export function banner(text) {
  $("pw-banner").textContent = text || "";
  $("pw-banner").hidden = !text;
}

export function formError(form, text) {
  const node = form.querySelector("[data-error]");
  if (node) node.textContent = text || "";
}
