// Extension points of the chat iframe. A feature is a module of its own that registers here
// when app.js imports it (see docs/widget.md, "Extension points"); nothing else needs editing.

import { $ } from "./dom.js";

const renderers = new Map(); // message kind -> render(message, bubble, li)
const frameHandlers = new Map(); // frame type -> [handle(frame)]
const statuses = new Map(); // source -> text shown under the title
let defaultStatus = null;

// Fills a message's bubble for its `kind` (e.g. "invoice"), instead of the plain body text.
// `bubble` is the message's .pw-bubble element: build inside it with text nodes only.
export function registerMessageRenderer(kind, render) {
  renderers.set(kind, render);
}

export function messageRenderer(kind) {
  return renderers.get(kind) || null;
}

// Called with every frame of this type from /ws/widget/ (after the built-in handling, if any).
export function onFrameType(type, handle) {
  if (!frameHandlers.has(type)) frameHandlers.set(type, []);
  frameHandlers.get(type).push(handle);
}

export function dispatchExtensions(frame) {
  for (const handle of frameHandlers.get(frame.type) || []) handle(frame);
}

// The line under the widget's title ("We typically reply in a few minutes"): a feature sets its
// own text (e.g. the queue position) and clears it with null; the latest set text wins.
export function setHeaderStatus(source, text) {
  const node = $("pw-status");
  if (defaultStatus === null) defaultStatus = node.textContent;
  statuses.delete(source);
  if (text) statuses.set(source, text);
  const shown = Array.from(statuses.values()).pop();
  node.textContent = shown || defaultStatus;
}
