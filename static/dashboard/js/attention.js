// Getting the operator's attention inside the page: the new-chat alert and the toast.

import { $ } from "./dom.js";
import { t } from "./i18n.js";
import { visitorName } from "./list.js";
import * as notify from "./notify.js";
import { openChat } from "./pane.js";

const TOAST_SHOWN = 5000;

// A chat rings when a visitor writes in it while it waits in the queue (once): a proactive
// invitation, which an operator starts and takes in one go, does not.
export const rung = new Set();

export function newChatAlert(c) {
  notify.chime();
  notify.blinkTitle(t("tab.new"));
  notify.desktopNotify(t("notify.title"), t("notify.body", { name: visitorName(c) }), () => openChat(c.id));
  const item = document.querySelector(`#conv-list [data-id="${c.id}"]`);
  item?.classList.add("flash");
}

let toastTimer = null;

export function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, TOAST_SHOWN);
}
