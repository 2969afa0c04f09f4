// Which view the frame shows (loading, pre-chat form, contact form, chat), its height on the
// host page, and where the focus goes when the visitor opens the chat.

import { $ } from "./dom.js";
import { toHost } from "./host.js";
import { markRead } from "./unread.js";
import { state } from "./state.js";

const VIEWS = ["pw-loading", "pw-prechat", "pw-contact", "pw-chat"];

export function show(view) {
  for (const id of VIEWS) $(id).hidden = id !== view;
  requestAnimationFrame(() => {
    const height = view === "pw-chat" ? 640 : document.querySelector(".pw-head").offsetHeight + $(view).scrollHeight + 8;
    toHost({ type: "resize", height });
  });
  if (state.open) setOpen(true);
}

export function setOpen(open) {
  state.open = open;
  if (open) {
    markRead();
    const target = [$("pw-pre-name"), $("pw-c-name"), $("pw-input")].find((node) => node && node.offsetParent && !node.disabled);
    if (target) setTimeout(() => target.focus(), 30);
  }
}
