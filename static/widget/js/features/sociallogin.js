// "Log in so we remember you": the social logins the tenant offers (config.login_providers), in
// the pre-chat form and above the reply box. A click opens a popup on Parley's own origin (the
// frame's cookies may be partitioned); the result arrives over the socket (an `identity` frame,
// with a new visitor token when this browser joins a visitor known from another device) and, as
// a fast path, by postMessage from the popup.

import { api, errorText } from "../api.js";
import { openChat } from "../chat.js";
import { socket } from "../connection.js";
import { $, el } from "../dom.js";
import { onFrameType } from "../extend.js";
import { toHost } from "../host.js";
import { t } from "../i18n.js";
import { cfg, state } from "../state.js";

const providers = Array.isArray(cfg.login_providers) ? cfg.login_providers : [];
const boxes = [];
let popup = null;

function loggedIn(name) {
  for (const box of boxes) {
    box.querySelector(".pw-login-buttons").hidden = true;
    box.querySelector(".pw-login-title").hidden = true;
    box.querySelector(".pw-login-note").textContent = t("login_done", { name: name || "" });
  }
}

async function start(provider, note) {
  note.textContent = "";
  // The result comes over the socket: be connected (the pre-chat form has no socket yet).
  socket.connect();
  // Opened inside the click, so no popup blocker stops it; pointed at Parley's page when it comes.
  popup = window.open("", "parley-login", "popup,width=480,height=640");
  try {
    const { url } = await api("social/start", { provider });
    const target = new URL(url, window.location.href);
    if (target.origin !== window.location.origin) throw new Error(t("error"));
    if (popup && !popup.closed) popup.location.href = target.href;
    else window.open(target.href, "parley-login", "popup,width=480,height=640");
    note.textContent = t("login_waiting");
  } catch (error) {
    if (popup && !popup.closed) popup.close();
    note.textContent = errorText(error);
  }
}

function box(className) {
  const wrap = el("div", `pw-login ${className}`);
  wrap.append(el("p", "pw-login-title", t("login_prompt")));
  const buttons = el("div", "pw-login-buttons");
  const note = el("p", "pw-login-note");
  note.setAttribute("role", "status");
  for (const provider of providers) {
    const button = el("button", `pw-login-btn pw-login-${provider.id}`, provider.name);
    button.type = "button";
    button.dataset.provider = provider.id;
    button.addEventListener("click", () => start(provider.id, note));
    buttons.append(button);
  }
  wrap.append(buttons, note);
  boxes.push(wrap);
  return wrap;
}

if (providers.length) {
  const prechatSubmit = $("pw-prechat")?.querySelector("button[type=submit]");
  if (prechatSubmit) prechatSubmit.after(box("pw-login-prechat"));
  const compose = $("pw-compose");
  if (compose) compose.before(box("pw-login-chat"));
}

// The fast path: the popup on our own origin says how it went (the socket frame may follow).
window.addEventListener("message", (event) => {
  const msg = event.data;
  if (event.origin !== window.location.origin || !popup || event.source !== popup) return;
  if (!msg || msg.parley !== 1 || msg.type !== "visitor-login") return;
  if (msg.ok) loggedIn(msg.name);
});

onFrameType("identity", (frame) => {
  const visitor = frame.visitor || {};
  state.visitor = { ...(state.visitor || {}), ...visitor };
  loggedIn(visitor.name || visitor.email);
  const session = { visitor: state.visitor };
  if (frame.token) {
    // This browser's visitor joined the one this account had elsewhere: continue as that one.
    state.token = frame.token;
    session.token = frame.token;
    socket.drop();
    socket.attempt = 0;
    socket.connect();
  }
  toHost({ type: "session", session });
  // Logged in from the pre-chat form: the provider named the visitor, so the chat can start.
  if (!$("pw-prechat").hidden && state.visitor.name) openChat();
});
