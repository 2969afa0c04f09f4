// The dashboard's client-side state, shared by the modules. The server is the source
// of truth: this is a cache kept live by socket frames and refreshed over HTTP on reconnect.

export const boot = JSON.parse(document.getElementById("parley-boot").textContent);
export const me = boot.me;

export const state = {
  conversations: new Map(), // id -> summary (the list endpoint's or a `conversation` frame's shape)
  box: "queued",
  nextBefore: {}, // box -> cursor of its next page
  listsLoaded: false,
  selected: null, // conversation id open in the chat pane
  watching: null, // the conversation this page asked the socket to watch (its bodies, drafts, receipts)
  chats: new Map(), // id -> loaded chat (see chat.js newChat)
  team: null, // {operators, departments}
  visitors: [], // visitors online now
  clockOffset: 0, // server time minus browser time, in ms
  actions: {}, // callbacks app.js registers for card.js (openChat, toast, ...)
};

export function serverNow() {
  return Date.now() + state.clockOffset;
}

export function secondsSince(iso) {
  return iso ? (serverNow() - new Date(iso).getTime()) / 1000 : 0;
}
