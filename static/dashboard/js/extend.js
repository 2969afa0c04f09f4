// Extension points of the dashboard. A feature is a module of its own (js/features/<name>.js)
// that registers here when app.js imports it; docs/dashboard.md, "Extension points", says how.

const renderers = new Map(); // message kind -> render(message, context) -> Node
const composerHelpers = []; // {mount, input, keydown, opened}
const headerStatuses = []; // render(summary) -> Node | string | null
const listBadges = []; // render(summary) -> Node | string | null
const frameHandlers = new Map(); // frame type -> [handle(frame)]
const cardSections = []; // render(card) -> Node | string | null
const messageStates = []; // render(message) -> Node | string | null

// The body of a message of this `kind` ("invoice", "email"): return a Node built with dom.js's
// h() (never HTML from strings). The author line, time and delivery state stay as they are.
// context: {visitorRead, pending, readOnly}.
export function registerMessageRenderer(kind, render) {
  renderers.set(kind, render);
}

export function messageRenderer(kind) {
  return renderers.get(kind) || null;
}

// An extra state line under an operator's message (whether its email left): called on every
// render of the message; return null to show nothing.
export function registerMessageState(render) {
  messageStates.push(render);
}

export function messageStateList() {
  return messageStates;
}

// A helper of the reply box (canned-reply suggestions, ...):
//   mount(container, composer)   once, with its own element above the reply box;
//   input(text, composer)        after every change of the reply box;
//   keydown(event, composer)     before the composer's own keys; return true when handled;
//   opened(summary, composer)    when another conversation is opened in the chat pane.
// composer: {value(), setValue(text), insert(text), focus(), stage(attachment), send(), conversation(), kind()}.
export function registerComposerHelper(helper) {
  composerHelpers.push(helper);
}

export function composerHelperList() {
  return composerHelpers;
}

// Extra status in the open chat's header (queue position, SLA, channel): called on every
// render of the header with the conversation's summary; return null to show nothing.
export function registerHeaderStatus(render) {
  headerStatuses.push(render);
}

export function headerStatusList() {
  return headerStatuses;
}

// A small badge on a conversation's row in the lists (the channel, a queue position).
export function registerListBadge(render) {
  listBadges.push(render);
}

export function listBadgeList() {
  return listBadges;
}

// A section at the end of the visitor card ("email this visitor"): called on every render of
// the card with the card's payload (GET /app/api/visitors/<id>); return null to show nothing.
export function registerCardSection(render) {
  cardSections.push(render);
}

export function cardSectionList() {
  return cardSections;
}

// Called with every frame of this type from /ws/app/ after the built-in handling, if any.
export function onFrameType(type, handle) {
  if (!frameHandlers.has(type)) frameHandlers.set(type, []);
  frameHandlers.get(type).push(handle);
}

export function dispatchExtensions(frame) {
  for (const handle of frameHandlers.get(frame.type) || []) handle(frame);
}

// What a render hook returned, as nodes to append (strings become text nodes).
export function asNodes(value) {
  if (value === null || value === undefined || value === false || value === "") return [];
  return [value instanceof Node ? value : document.createTextNode(String(value))];
}
