// Canned replies in the reply box (docs/canned.md).
//
// "/" and a few letters (or "#" and a tag) anywhere in the reply box suggests replies, ranked by
// the server (apps/canned/selectors.py); arrows choose, Enter or Tab inserts the reply with its
// placeholders filled, Esc closes. Several replies can go into one message; the operator edits
// and sends as usual. Alt+1..9 send (or insert) the operator's hotkeyed replies; the "?" help
// lists them. The "Canned replies" dialog browses alphabetically, manages the operator's
// personal replies and puts replies on Alt+1..9.

import * as api from "../api.js";
import { toast } from "../attention.js";
import { $, clear, h } from "../dom.js";
import { onFrameType, registerComposerHelper } from "../extend.js";
import { t } from "../i18n.js";
import { me, state } from "../state.js";

const API = "/app/api/canned/";
const SUGGESTIONS = 8;
const DEBOUNCE = 60;
// A "/" or "#" at the start or after a space, and what was typed since, right before the caret.
const TRIGGER = /(^|\s)([/#])([^\s/#]{0,40})$/u;
const SLOTS = [1, 2, 3, 4, 5, 6, 7, 8, 9];
const FIELDS = {
  title: "canned.field_title",
  shortcut: "canned.field_shortcut",
  text: "canned.field_text",
  language: "canned.field_language",
  tags: "canned.field_tags",
};

let composer = null;
let panel = null; // the suggestion list
let items = [];
let active = 0;
let trigger = null; // {start, end, text}
let requestSeq = 0;
let timer = null;
let hotkeys = []; // [{slot, sends, reply}]

// --- suggestions -------------------------------------------------------------------------------

function findTrigger() {
  const reply = $("#reply");
  const caret = reply.selectionStart ?? reply.value.length;
  if (reply.selectionEnd !== caret) return null;
  const match = reply.value.slice(0, caret).match(TRIGGER);
  if (!match) return null;
  const start = caret - match[2].length - match[3].length;
  return { start, end: caret, text: reply.value.slice(start, caret), query: (match[2] === "#" ? "#" : "") + match[3] };
}

function close() {
  requestSeq += 1;
  clearTimeout(timer);
  items = [];
  trigger = null;
  if (panel) {
    panel.hidden = true;
    clear(panel);
  }
  $("#reply")?.removeAttribute("aria-activedescendant");
  $("#reply")?.setAttribute("aria-expanded", "false");
}

function scopeLabel(reply) {
  if (reply.scope === "personal") return t("canned.personal");
  if (reply.scope === "department") return reply.department || t("canned.department");
  return null;
}

function renderSuggestions() {
  clear(panel);
  if (!items.length) {
    panel.append(h("li", { class: "canned-empty", text: t("canned.none") }));
  }
  items.forEach((reply, index) => {
    const label = scopeLabel(reply);
    panel.append(
      h(
        "li",
        {
          id: `canned-option-${reply.id}`,
          role: "option",
          class: "canned-option",
          "aria-selected": String(index === active),
          dataset: { id: reply.id },
          // mousedown, not click: the reply box keeps the focus and the caret.
          onmousedown: (event) => {
            event.preventDefault();
            pick(reply);
          },
        },
        h("span", { class: "canned-shortcut", text: `/${reply.shortcut}` }),
        h("span", { class: "canned-title", text: reply.title }),
        label ? h("span", { class: "badge canned-scope", text: label }) : null,
        h("span", { class: "canned-preview", text: reply.text.replace(/\s+/g, " ").slice(0, 140) }),
      ),
    );
  });
  panel.hidden = false;
  const reply = $("#reply");
  reply.setAttribute("aria-expanded", "true");
  if (items[active]) reply.setAttribute("aria-activedescendant", `canned-option-${items[active].id}`);
  panel.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: "nearest" });
}

async function suggest(found) {
  const seq = ++requestSeq;
  let payload;
  try {
    payload = await api.get(`${API}?${new URLSearchParams({ q: found.query, limit: String(SUGGESTIONS) })}`);
  } catch {
    return;
  }
  if (seq !== requestSeq) return; // the operator typed on: a newer request answers
  trigger = found;
  items = payload.replies || [];
  active = 0;
  renderSuggestions();
}

async function fill(reply) {
  const conversation = state.selected;
  return api.post(`${API}${reply.id}/fill`, conversation ? { conversation } : {});
}

async function pick(reply) {
  const at = trigger;
  close();
  let filled;
  try {
    filled = await fill(reply);
  } catch (error) {
    toast(t("canned.failed", { message: error.message }));
    return;
  }
  const box = $("#reply");
  // Replace the "/del" typed; if the operator typed on meanwhile, insert at the caret instead.
  if (at && box.value.slice(at.start, at.end) === at.text) {
    box.setRangeText(filled.text, at.start, at.end, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));
  } else {
    composer.insert(filled.text);
  }
  for (const attachment of filled.attachments || []) composer.stage(attachment);
  composer.focus();
}

function onInput() {
  const found = findTrigger();
  if (!found) {
    close();
    return;
  }
  clearTimeout(timer);
  timer = setTimeout(() => suggest(found), DEBOUNCE);
}

function onKeydown(event) {
  if (!panel || panel.hidden) return false;
  if (event.key === "Escape") {
    event.stopPropagation(); // the page would take Esc as "leave the reply box"
    event.preventDefault();
    close();
    return true;
  }
  if (!items.length) return false;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    active = (active + (event.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
    renderSuggestions();
    return true;
  }
  if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && !event.altKey && !event.isComposing) {
    event.preventDefault();
    pick(items[active]);
    return true;
  }
  return false;
}

// --- hotkeys -----------------------------------------------------------------------------------

async function loadHotkeys() {
  try {
    hotkeys = (await api.get(`${API}hotkeys`)).hotkeys || [];
  } catch {
    hotkeys = [];
  }
  renderHelp();
}

// Another tab of this operator changed their hotkeys or personal replies (only their own
// sockets hear it; a tab of another tenant of the same person ignores the other membership).
onFrameType("canned.changed", (frame) => {
  if (frame.operator !== me.id) return;
  loadHotkeys();
  refreshBrowse();
});

async function useHotkey(hotkey) {
  const summary = composer.conversation();
  if (!summary || summary.status === "closed") return;
  let filled;
  try {
    filled = await fill(hotkey.reply);
  } catch (error) {
    toast(t("canned.failed", { message: error.message }));
    return;
  }
  if (!hotkey.sends) {
    composer.insert(filled.text);
    for (const attachment of filled.attachments || []) composer.stage(attachment);
    composer.focus();
    return;
  }
  // Sent on its own: whatever the operator was writing stays in the reply box.
  const draft = composer.value();
  composer.setValue(filled.text);
  for (const attachment of filled.attachments || []) composer.stage(attachment);
  composer.send();
  if (draft) composer.setValue(draft);
}

function onHotkey(event) {
  if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const match = /^Digit([1-9])$/.exec(event.code || "");
  if (!match || document.querySelector("dialog[open]")) return;
  const hotkey = hotkeys.find((item) => item.slot === Number(match[1]));
  if (!hotkey) return;
  event.preventDefault();
  useHotkey(hotkey);
}

// "/" outside the reply box focuses it (js/keys.js); here it also starts the canned-reply search,
// so "/del" typed from anywhere in an open chat suggests "Delivery times".
function onSlash(event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  const editing = target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  const summary = composer?.conversation();
  if (editing || !summary || summary.status === "closed" || document.querySelector("dialog[open]")) return;
  event.preventDefault();
  event.stopPropagation();
  composer.focus();
  composer.insert("/");
}

function renderHelp() {
  const keys = $("#help-dialog dl.keys");
  if (!keys) return;
  for (const row of keys.querySelectorAll(".canned-help")) row.remove();
  const rows = [
    [[h("kbd", { text: "/" }), " ", h("kbd", { text: "#" })], t("canned.help_suggest")],
    ...hotkeys.map((hotkey) => [
      [h("kbd", { text: "Alt" }), "+", h("kbd", { text: String(hotkey.slot) })],
      hotkey.sends ? t("canned.help_send", { title: hotkey.reply.title }) : t("canned.help_insert", { title: hotkey.reply.title }),
    ]),
  ];
  for (const [keysText, description] of rows) {
    keys.append(h("dt", { class: "canned-help" }, keysText), h("dd", { class: "canned-help", text: description }));
  }
}

// --- the dialog: browse, personal replies, hotkeys --------------------------------------------

let dialog = null;
let browseOffset = null;
let editing = null; // the personal reply being edited, or null for a new one

function slotOf(reply) {
  return hotkeys.find((hotkey) => hotkey.reply.id === reply.id)?.slot ?? "";
}

async function setHotkey(reply, value) {
  try {
    if (value === "") {
      const slot = slotOf(reply);
      if (slot) hotkeys = (await api.post(`${API}hotkeys`, { slot, reply: null })).hotkeys;
    } else {
      hotkeys = (await api.post(`${API}hotkeys`, { slot: Number(value), reply: reply.id, sends: true })).hotkeys;
    }
  } catch (error) {
    toast(t("canned.failed", { message: error.message }));
  }
  renderHelp();
  refreshBrowse();
}

function browseRow(reply) {
  const label = scopeLabel(reply);
  const slot = slotOf(reply);
  return h(
    "li",
    { class: "canned-row", dataset: { id: reply.id } },
    h(
      "div",
      { class: "canned-row-head" },
      h("span", { class: "canned-shortcut", text: `/${reply.shortcut}` }),
      h("strong", { class: "canned-title", text: reply.title }),
      label ? h("span", { class: "badge canned-scope", text: label }) : null,
    ),
    h("div", { class: "canned-preview", text: reply.text }),
    h(
      "div",
      { class: "canned-row-actions" },
      h(
        "select",
        { "aria-label": t("canned.hotkey"), class: "canned-hotkey", onchange: (event) => setHotkey(reply, event.target.value) },
        h("option", { value: "", text: t("canned.no_hotkey"), selected: slot === "" ? "" : null }),
        SLOTS.map((n) => h("option", { value: String(n), text: `Alt+${n}`, selected: slot === n ? "" : null })),
      ),
      reply.editable ? h("button", { type: "button", class: "btn small", text: t("canned.edit"), onclick: () => openForm(reply) }) : null,
      reply.editable ? h("button", { type: "button", class: "btn small danger", text: t("canned.delete"), onclick: () => remove(reply) }) : null,
    ),
  );
}

async function loadBrowse({ more = false } = {}) {
  const list = $("#canned-browse");
  const query = $("#canned-filter").value.trim();
  if (!more) browseOffset = 0;
  let payload;
  try {
    payload = query
      ? { replies: (await api.get(`${API}?${new URLSearchParams({ q: query, limit: "50" })}`)).replies, next_offset: null }
      : await api.get(`${API}browse?${new URLSearchParams({ offset: String(browseOffset || 0), limit: "50" })}`);
  } catch (error) {
    toast(t("canned.failed", { message: error.message }));
    return;
  }
  if (!more) clear(list);
  for (const reply of payload.replies) list.append(browseRow(reply));
  if (!list.children.length) list.append(h("li", { class: "muted", text: t("canned.none") }));
  browseOffset = payload.next_offset;
  $("#canned-more").hidden = browseOffset === null || browseOffset === undefined;
}

function refreshBrowse() {
  if (dialog?.open) loadBrowse();
}

async function remove(reply) {
  if (!window.confirm(t("canned.confirm_delete", { title: reply.title }))) return;
  try {
    await api.del(`${API}${reply.id}`);
  } catch (error) {
    toast(t("canned.failed", { message: error.message }));
  }
  await loadHotkeys();
  loadBrowse();
}

function openForm(reply) {
  editing = reply || null;
  const form = $("#canned-form");
  form.hidden = false;
  $("#canned-new").hidden = true;
  $("#canned-form-title").textContent = editing ? t("canned.edit_title") : t("canned.new_title");
  form.elements.title.value = editing?.title || "";
  form.elements.shortcut.value = editing?.shortcut || "";
  form.elements.text.value = editing?.text || "";
  form.elements.language.value = editing?.language || document.documentElement.lang || "en";
  form.elements.tags.value = (editing?.tags || []).join(", ");
  $("#canned-form-error").hidden = true;
  form.elements.title.focus();
}

function closeForm() {
  $("#canned-form").hidden = true;
  $("#canned-new").hidden = false;
  editing = null;
}

async function saveForm(event) {
  event.preventDefault();
  const form = event.target;
  const body = {
    title: form.elements.title.value,
    shortcut: form.elements.shortcut.value,
    text: form.elements.text.value,
    language: form.elements.language.value,
    tags: form.elements.tags.value,
  };
  try {
    if (editing) await api.patch(`${API}${editing.id}`, body);
    else await api.post(API, body);
  } catch (error) {
    const field = error.payload?.error?.field;
    const error_ = $("#canned-form-error");
    error_.textContent = (FIELDS[field] ? `${t(FIELDS[field])}: ` : "") + error.message;
    error_.hidden = false;
    return;
  }
  closeForm();
  await loadHotkeys();
  loadBrowse();
}

function buildDialog() {
  // The languages the page offers (its language switch).
  const languages = Array.from($("#lang-select")?.options || []).map((option) => [option.value, option.textContent]);
  dialog = h(
    "dialog",
    { id: "canned-dialog", class: "dialog wide canned-dialog", "aria-labelledby": "canned-dialog-title" },
    h("h2", { id: "canned-dialog-title", text: t("canned.title") }),
    h("input", {
      type: "search",
      id: "canned-filter",
      class: "canned-filter",
      placeholder: t("canned.filter"),
      "aria-label": t("canned.filter"),
      oninput: () => {
        clearTimeout(timer);
        timer = setTimeout(() => loadBrowse(), DEBOUNCE * 3);
      },
    }),
    h("ul", { id: "canned-browse", class: "canned-browse" }),
    h("button", { type: "button", id: "canned-more", class: "btn small", text: t("canned.more"), hidden: true, onclick: () => loadBrowse({ more: true }) }),
    h("button", { type: "button", id: "canned-new", class: "btn", text: t("canned.new"), onclick: () => openForm(null) }),
    h(
      "form",
      { id: "canned-form", class: "canned-form", hidden: true, onsubmit: saveForm },
      h("h3", { id: "canned-form-title" }),
      h("label", {}, t("canned.field_title"), h("input", { name: "title", maxlength: "120", required: true })),
      h("label", {}, t("canned.field_shortcut"), h("input", { name: "shortcut", maxlength: "40", required: true, pattern: "[^\\s]+" })),
      h("label", {}, t("canned.field_text"), h("textarea", { name: "text", rows: "4", maxlength: "4000", required: true })),
      h("p", { class: "muted small", text: t("canned.placeholders") }),
      h(
        "div",
        { class: "canned-form-row" },
        h("label", {}, t("canned.field_language"), h("select", { name: "language" }, languages.map(([code, name]) => h("option", { value: code, text: name })))),
        h("label", {}, t("canned.field_tags"), h("input", { name: "tags", maxlength: "200" })),
      ),
      h("p", { id: "canned-form-error", class: "error", hidden: true }),
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "btn", text: t("dialog.cancel"), onclick: closeForm }),
        h("button", { type: "submit", class: "btn primary", text: t("canned.save") }),
      ),
    ),
    h("form", { method: "dialog", class: "dialog-actions" }, h("button", { class: "btn", text: t("canned.close") })),
  );
  document.body.append(dialog);
}

function openDialog() {
  if (!dialog) buildDialog();
  closeForm();
  $("#canned-filter").value = "";
  dialog.showModal();
  loadBrowse();
}

// --- registration ------------------------------------------------------------------------------

registerComposerHelper({
  mount(container, composerApi) {
    composer = composerApi;
    panel = h("ul", { id: "canned-suggestions", class: "canned-suggestions", role: "listbox", "aria-label": t("canned.title"), hidden: true });
    container.append(panel);
    const reply = $("#reply");
    reply.setAttribute("aria-controls", "canned-suggestions");
    reply.setAttribute("aria-autocomplete", "list");
    reply.addEventListener("blur", () => setTimeout(close, 150));
    $(".composer-tabs")?.append(
      h(
        "button",
        { type: "button", class: "btn link small canned-open", id: "canned-open", title: t("canned.open"), "aria-label": t("canned.open"), onclick: openDialog },
        h("kbd", { text: "/" }),
        h("span", { class: "canned-open-label", text: t("canned.open") }),
      ),
    );
    document.addEventListener("keydown", onHotkey);
    document.addEventListener("keydown", onSlash, true);
    loadHotkeys();
  },
  input: onInput,
  keydown: onKeydown,
  opened: close,
});
