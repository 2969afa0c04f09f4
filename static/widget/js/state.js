// The chat iframe's state, shared by its modules. The server is the source of truth; this is
// what the visitor's screen needs between frames.

export const boot = JSON.parse(document.getElementById("parley-boot").textContent);
export const cfg = boot.config;
const params = new URLSearchParams(window.location.search);
export const hostOrigin = params.get("host") || "";
export const embedded = window.parent !== window;
export const REPLAY_LIMIT = 500; // the server's page size for a resume

export const state = {
  token: null,
  tokenRenewed: false,
  visitor: null,
  anonymousId: null,
  page: null,
  conversation: null, // id of the conversation on screen
  closed: false,
  lastSeq: 0, // highest seq with every earlier one seen
  seen: new Set(),
  replayed: 0, // message frames since the last resume was answered
  byClientId: new Map(), // client_id -> <li>
  operatorReadSeq: 0,
  open: !embedded,
  unread: 0,
  readSeq: 0,
};

// Web storage may be blocked in a third-party frame: then read receipts restart with the page.
export function readStore(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function writeStore(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    /* blocked: unread counts restart with the page */
  }
}
