// Keyboard shortcuts (the help dialog in templates/dashboard/app.html lists them).

import { accept, closeChat, focusReply, openTransfer } from "./actions.js";
import { $ } from "./dom.js";
import { moveSelection, switchBox } from "./list.js";

function isEditable(el) {
  return el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
}

export function onKey(event) {
  if (document.querySelector("dialog[open]")) return; // dialogs handle their own keys (Esc closes)
  const editing = isEditable(event.target);
  if (event.altKey && !event.ctrlKey && !event.metaKey) {
    const actions = {
      Enter: () => accept(),
      ArrowDown: () => moveSelection(1),
      ArrowUp: () => moveSelection(-1),
      KeyC: () => closeChat(),
      KeyT: () => openTransfer(),
    };
    const run = actions[event.code] || actions[event.key];
    if (run) {
      event.preventDefault();
      run();
    }
    return;
  }
  if (editing) {
    if (event.key === "Escape") event.target.blur();
    return;
  }
  if (event.ctrlKey || event.metaKey) return;
  const keys = {
    a: () => accept(),
    j: () => moveSelection(1),
    k: () => moveSelection(-1),
    r: () => focusReply(),
    "/": () => focusReply(),
    n: () => focusReply(true),
    "?": () => $("#help-dialog").showModal(),
    1: () => switchBox("queued"),
    2: () => switchBox("mine"),
    3: () => switchBox("open"),
    4: () => switchBox("closed"),
    5: () => switchBox("visitors"),
  };
  const run = keys[event.key];
  if (run) {
    event.preventDefault();
    run();
  }
}
