// The host page: the loader talks to this frame by postMessage, with an origin check both ways.

import { embedded, hostOrigin } from "./state.js";

export function toHost(msg) {
  if (embedded && hostOrigin) window.parent.postMessage({ parley: 1, ...msg }, hostOrigin);
}

// handlers: {type: (msg) => void} for the loader's messages (init, open, close, page, token).
export function listenToHost(handlers) {
  window.addEventListener("message", (event) => {
    const msg = event.data;
    if (!embedded || event.source !== window.parent || event.origin !== hostOrigin) return;
    if (!msg || msg.parley !== 1) return;
    const handle = Object.prototype.hasOwnProperty.call(handlers, msg.type) ? handlers[msg.type] : null;
    if (handle) handle(msg);
  });
}
