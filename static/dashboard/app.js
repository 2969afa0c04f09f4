// Parley operator dashboard: one page, one websocket, no reloads.

import * as api from "./js/api.js";
import { loadCard, loadVisitors, refreshCardIfShowing, renderVisitors, upsertVisitor } from "./js/card.js";
import { applyMessage, newChat, renderMessages, renderTyping, systemText } from "./js/chat.js";
import { $, $$, append, clear, h } from "./js/dom.js";
import { duration, t } from "./js/i18n.js";
import * as notify from "./js/notify.js";
import { OperatorSocket, newClientId } from "./js/socket.js";
import { boot, me, secondsSince, state } from "./js/state.js";

const OPEN = new Set(["open", "pending"]);
const BOX_KEYS = ["queued", "mine", "open", "closed", "visitors"];
const TYPING_REPEAT = 3000;
const TYPING_IDLE = 4000;

// --- lists -----------------------------------------------------------------------------

function inBox(c, box) {
  if (box === "queued") return c.status === "queued";
  if (box === "mine") return OPEN.has(c.status) && c.assignee?.id === me.id;
  if (box === "open") return OPEN.has(c.status);
  if (box === "closed") return c.status === "closed";
  return false;
}

function waitingSince(c) {
  if (c.status === "queued") return c.created_at;
  if (c.status === "closed") return null;
  if (c.last_message?.author_type === "visitor") return c.last_message.created_at;
  return null;
}

function boxItems(box) {
  const items = Array.from(state.conversations.values()).filter((c) => inBox(c, box));
  if (box === "queued") items.sort((a, b) => (a.created_at < b.created_at ? -1 : 1)); // oldest waits first
  else items.sort((a, b) => (a.last_message_at < b.last_message_at ? 1 : -1));
  return items;
}

function visitorName(c) {
  return c.visitor?.name || c.visitor?.email || t("visitor.anonymous", { id: c.visitor?.id ?? "" });
}

function preview(c) {
  const chat = state.chats.get(c.id);
  if (chat && chat.draft) return `✎ ${chat.draft}`;
  const last = c.last_message;
  if (!last) return "";
  if (last.kind === "system") return systemText(last);
  const prefix = last.kind === "note" ? `${t("chat.note_badge")}: ` : "";
  return prefix + (last.body || "");
}

function renderList() {
  for (const box of ["queued", "mine", "open"]) {
    const count = boxItems(box).length;
    document.querySelector(`[data-count="${box}"]`).textContent = count ? String(count) : "";
  }
  for (const tab of $$(".boxes [data-box]")) tab.setAttribute("aria-selected", String(tab.dataset.box === state.box));
  const list = $("#conv-list");
  const visitors = $("#visitors");
  list.hidden = state.box === "visitors";
  visitors.hidden = state.box !== "visitors";
  if (state.box === "visitors") {
    renderVisitors();
    return;
  }
  clear(list);
  const items = boxItems(state.box);
  if (!items.length) list.append(h("li", { class: "empty muted", text: t("list.empty") }));
  for (const c of items) {
    const since = waitingSince(c);
    const unread = c.status === "closed" ? 0 : c.unread || 0;
    list.append(
      h(
        "li",
        {
          class: `conv${c.id === state.selected ? " selected" : ""}${unread ? " unread" : ""}`,
          role: "option",
          "aria-selected": String(c.id === state.selected),
          dataset: { id: c.id },
          tabindex: "0",
          onclick: () => openChat(c.id),
          onkeydown: (event) => {
            if (event.key === "Enter" && event.target === event.currentTarget) openChat(c.id);
          },
        },
        h(
          "div",
          { class: "conv-top" },
          h("strong", { class: "conv-name", text: visitorName(c) }),
          unread ? h("span", { class: "unread-count", title: t("list.unread", { count: unread }), text: String(unread) }) : null,
          since ? h("span", { class: "waiting live-duration", dataset: { since }, text: duration(secondsSince(since)) }) : null,
        ),
        h("div", { class: "conv-preview", text: preview(c) }),
        h(
          "div",
          { class: "conv-meta muted small" },
          h("span", { class: `badge status-${c.status}`, text: t(`status.${c.status}`) }),
          c.assignee && state.box !== "mine" ? ` ${c.assignee.name}` : "",
          c.department ? ` · ${c.department.name}` : "",
        ),
      ),
    );
  }
  if (state.nextBefore[state.box]) {
    list.append(h("li", { class: "more" }, h("button", { type: "button", class: "btn small", text: t("list.more"), onclick: () => loadBox(state.box, true) })));
  }
}

state.nextBefore = {};

function mergeSummary(summary) {
  const previous = state.conversations.get(summary.id);
  const merged = { ...(previous || {}), ...summary };
  if (!("last_message" in summary) && previous) merged.last_message = previous.last_message;
  if (!("unread" in summary)) merged.unread = previous?.unread ?? Math.max(0, (summary.last_seq || 0) - (summary.operator_read_seq || 0));
  state.conversations.set(summary.id, merged);
  return { previous, merged };
}

async function loadBox(box, more = false) {
  const params = new URLSearchParams({ box });
  if (box === "queued") params.set("limit", "200"); // the whole queue, oldest first
  if (more && state.nextBefore[box]) params.set("before", state.nextBefore[box]);
  const payload = await api.get(`/app/api/conversations?${params}`);
  state.clockOffset = new Date(payload.now).getTime() - Date.now();
  const known = new Set(state.conversations.keys());
  if (!more) {
    // The server's page replaces what this box showed (items that left the box drop out).
    for (const [id, c] of state.conversations) if (inBox(c, box) && id !== state.selected) state.conversations.delete(id);
  }
  for (const summary of payload.conversations) mergeSummary(summary);
  state.nextBefore[box] = payload.next_before;
  renderList();
  if (box === "queued" && state.listsLoaded) {
    // Chats that arrived while the socket was down ring now.
    const arrived = payload.conversations.filter((c) => !known.has(c.id) && !rung.has(c.id));
    for (const c of arrived) rung.add(c.id);
    if (arrived.length) newChatAlert(state.conversations.get(arrived[0].id));
  }
}

async function loadLists() {
  const boxes = ["queued", "mine", "open"];
  if (state.box === "closed") boxes.push("closed");
  try {
    for (const box of boxes) await loadBox(box);
    state.listsLoaded = true;
  } catch (error) {
    toast(t("chat.error", { message: error.message }));
  }
}

function switchBox(box) {
  if (!BOX_KEYS.includes(box)) return;
  state.box = box;
  document.body.dataset.pane = "list";
  renderList();
  if (box === "closed") loadBox("closed").catch(() => {});
  if (box === "visitors") loadVisitors();
}

function moveSelection(step) {
  const items = boxItems(state.box === "visitors" ? "queued" : state.box);
  if (!items.length) return;
  const index = items.findIndex((c) => c.id === state.selected);
  const next = index === -1 ? (step > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, index + step));
  openChat(items[next].id);
}

// --- the open chat --------------------------------------------------------------------

async function openChat(id) {
  state.selected = id;
  composeKind("text");
  document.body.dataset.pane = "chat";
  $("#chat-empty").hidden = true;
  $("#chat-body").hidden = false;
  clearStaged();
  renderList();
  renderChatHead();
  let chat = state.chats.get(id);
  if (!chat || chat.stub) {
    const summary = state.conversations.get(id) || { id };
    const draft = chat ? chat.draft : null;
    chat = newChat(summary);
    chat.draft = draft;
    state.chats.set(id, chat);
    clear($("#messages"));
    try {
      const payload = await api.get(`/app/api/conversations/${id}/messages`);
      mergeSummary(payload.conversation);
      for (const message of payload.messages) applyMessage(chat, message);
      chat.visitorRead = payload.conversation.visitor_read_seq || 0;
    } catch (error) {
      state.chats.delete(id);
      toast(t("chat.error", { message: error.message }));
      return;
    }
    if (state.selected !== id) return;
    renderChatHead();
  }
  renderChat();
  renderTyping(chat);
  markRead(id);
  const summary = state.conversations.get(id);
  if (summary?.visitor?.id) loadCard(summary.visitor.id); // fresh: pages and earlier chats change
  $("#messages").scrollTop = $("#messages").scrollHeight;
}

function renderChat() {
  const chat = state.chats.get(state.selected);
  if (!chat) return;
  renderMessages($("#messages"), chat, socket.outbox);
}

function renderChatHead() {
  const c = state.conversations.get(state.selected);
  if (!c) return;
  $("#chat-name").textContent = visitorName(c);
  const status = $("#chat-status");
  status.textContent = t(`status.${c.status}`);
  status.className = `badge status-${c.status}`;
  $("#chat-sub").textContent = [c.assignee?.name, c.department?.name, c.visitor?.email].filter(Boolean).join(" · ");
  const mine = c.assignee?.id === me.id;
  $("#act-accept").hidden = c.status !== "queued";
  $("#act-close").hidden = c.status === "closed";
  $("#act-reopen").hidden = c.status !== "closed";
  $("#act-transfer").hidden = c.status === "closed";
  $("#act-invite").hidden = c.status === "closed";
  const banner = $("#chat-banner");
  let text = "";
  if (c.status === "queued") text = t("chat.queued");
  else if (c.status === "closed") text = t("chat.closed");
  else if (c.assignee && !mine) text = t("chat.other_assignee", { name: c.assignee.name });
  banner.textContent = text;
  banner.hidden = !text;
  const closed = c.status === "closed";
  $("#reply").disabled = closed;
  $("#send").disabled = closed;
}

function markRead(id) {
  const c = state.conversations.get(id);
  const chat = state.chats.get(id);
  if (!c || !chat || document.visibilityState !== "visible") return;
  if (chat.lastSeq && (c.unread || (c.operator_read_seq || 0) < chat.lastSeq)) {
    socket.raw({ type: "read", conversation: id, seq: chat.lastSeq });
    c.operator_read_seq = chat.lastSeq;
  }
  if (c.unread) {
    c.unread = 0;
    renderList();
  }
}

// --- composer -------------------------------------------------------------------------

let kind = "text";
let staged = []; // uploaded attachments waiting to be sent: {token, filename, ...}
let typingSentAt = 0;
let typingTimer = null;

function composeKind(next) {
  kind = next;
  for (const tab of $$(".composer-tabs [data-kind]")) tab.setAttribute("aria-selected", String(tab.dataset.kind === kind));
  $("#composer").classList.toggle("note-mode", kind === "note");
  $("#reply").placeholder = kind === "note" ? t("chat.note_placeholder") : t("chat.placeholder");
  if (kind === "note") stopTyping();
}

function clearStaged() {
  staged = [];
  renderStaged();
}

function renderStaged() {
  const list = clear($("#staged"));
  for (const item of staged) {
    list.append(
      h(
        "li",
        { class: item.error ? "error" : "", dataset: { state: item.uploading ? "uploading" : item.error ? "error" : "ready" } },
        h("span", { text: item.uploading ? t("chat.uploading", { name: item.filename }) : item.error ? t("chat.upload_failed", { name: item.filename }) : item.filename }),
        h("button", { type: "button", class: "btn icon small", "aria-label": "×", text: "×", onclick: () => { staged = staged.filter((s) => s !== item); renderStaged(); } }),
      ),
    );
  }
}

async function uploadFiles(files) {
  const conversation = state.selected;
  for (const file of files) {
    const item = { filename: file.name, uploading: true };
    staged.push(item);
    renderStaged();
    const form = new FormData();
    form.append("file", file);
    form.append("conversation", String(conversation));
    try {
      const payload = await api.upload(boot.upload_url, form);
      const attachment = payload.attachment || payload;
      Object.assign(item, { uploading: false, token: attachment.token, view: attachment });
    } catch {
      Object.assign(item, { uploading: false, error: true });
    }
    renderStaged();
  }
}

function sendCurrent() {
  const id = state.selected;
  const c = state.conversations.get(id);
  if (!id || !c || c.status === "closed") return;
  const textarea = $("#reply");
  const ready = staged.filter((s) => s.token);
  if (staged.some((s) => s.uploading)) return;
  let body = textarea.value.trim();
  if (!body && !ready.length) return;
  if (!body) body = ready.map((s) => s.filename).join(", ");
  const message = {
    client_id: newClientId(),
    conversation: id,
    body: body.slice(0, 5000),
    kind,
    created_at: new Date().toISOString(),
  };
  if (ready.length && kind === "text") {
    message.attachments = ready.map((s) => s.token);
    message.attachment_views = ready.map((s) => s.view);
  }
  socket.sendMessage(message);
  textarea.value = "";
  clearStaged();
  stopTyping();
  renderChat();
  $("#messages").scrollTop = $("#messages").scrollHeight;
}

function typingInput() {
  if (kind !== "text" || !state.selected) return;
  const now = Date.now();
  if (now - typingSentAt > TYPING_REPEAT) {
    typingSentAt = now;
    socket.raw({ type: "typing", conversation: state.selected, on: true });
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, TYPING_IDLE);
}

function stopTyping() {
  clearTimeout(typingTimer);
  if (typingSentAt && state.selected) socket.raw({ type: "typing", conversation: state.selected, on: false });
  typingSentAt = 0;
}

// --- actions --------------------------------------------------------------------------

async function act(frame) {
  try {
    return await socket.request(frame);
  } catch (error) {
    toast(t("chat.error", { message: error.message }));
    return null;
  }
}

async function accept(id) {
  let target = id ?? state.selected;
  const selected = state.conversations.get(target);
  if (!selected || selected.status !== "queued") {
    const oldest = boxItems("queued")[0];
    if (!oldest) return;
    target = oldest.id;
  }
  notify.stopBlinking();
  accepting.add(target);
  const answer = await act({ type: "accept", conversation: target });
  setTimeout(() => accepting.delete(target), 5000);
  if (answer) {
    if (state.selected !== target) await openChat(target);
    focusReply();
  }
}

async function closeChat() {
  const c = state.conversations.get(state.selected);
  if (c && c.status !== "closed") await act({ type: "close", conversation: c.id });
}

async function reopenChat() {
  const c = state.conversations.get(state.selected);
  if (c && c.status === "closed") await act({ type: "reopen", conversation: c.id });
}

async function loadTeam() {
  state.team = await api.get("/app/api/team");
  return state.team;
}

function operatorOption(o) {
  return h("option", { value: o.id, text: `${o.name} (${t(`op.${o.status}`)})` });
}

async function openTransfer() {
  const c = state.conversations.get(state.selected);
  if (!c || c.status === "closed") return;
  const team = await loadTeam().catch(() => null);
  if (!team) return;
  const operators = clear($("#transfer-operator"));
  append(operators, [h("option", { value: "", text: "—" }), team.operators.filter((o) => o.id !== me.id).map(operatorOption)]);
  const departments = clear($("#transfer-department"));
  append(departments, [h("option", { value: "", text: "—" }), team.departments.map((d) => h("option", { value: d.id, text: d.name }))]);
  $("#transfer-error").hidden = true;
  $("#transfer-form").reset();
  $("#transfer-dialog").showModal();
  $("#transfer-operator").focus();
}

async function submitTransfer() {
  const form = $("#transfer-form");
  const operator = form.elements.operator.value;
  const department = form.elements.department.value;
  const note = form.elements.note.value.trim();
  if (!operator && !department) return;
  const frame = { type: "transfer", conversation: state.selected };
  if (operator) frame.to_operator = Number(operator);
  if (department) frame.to_department = Number(department);
  if (note) frame.note = note;
  await act(frame);
}

async function openInvite() {
  const c = state.conversations.get(state.selected);
  if (!c || c.status === "closed") return;
  const team = await loadTeam().catch(() => null);
  if (!team) return;
  const select = clear($("#invite-operator"));
  append(select, team.operators.filter((o) => o.id !== me.id && o.id !== c.assignee?.id).map(operatorOption));
  $("#invite-error").hidden = true;
  $("#invite-dialog").showModal();
}

async function submitInvite() {
  const operator = Number($("#invite-operator").value);
  if (!operator) return;
  try {
    await api.post(`/app/api/conversations/${state.selected}/invite`, { operator });
  } catch (error) {
    toast(t("chat.error", { message: error.message }));
  }
}

function focusReply(noteMode = false) {
  if (!state.selected) return;
  composeKind(noteMode ? "note" : "text");
  document.body.dataset.pane = "chat";
  $("#reply").focus();
}

async function setStatus(status) {
  try {
    const payload = await api.post("/app/api/status", { status });
    me.status = payload.status;
  } catch (error) {
    toast(t("chat.error", { message: error.message }));
  }
  renderStatus();
}

function renderStatus() {
  $("#op-status").value = me.status;
  $("#op-status-dot").className = `dot ${me.status}`;
}

// --- attention ------------------------------------------------------------------------

function newChatAlert(c) {
  notify.chime();
  notify.blinkTitle(t("tab.new"));
  notify.desktopNotify(t("notify.title"), t("notify.body", { name: visitorName(c) }), () => openChat(c.id));
  const item = document.querySelector(`#conv-list [data-id="${c.id}"]`);
  item?.classList.add("flash");
}

let toastTimer = null;
function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, 5000);
}

// --- frames from the server -----------------------------------------------------------

async function ensureSummary(id) {
  if (state.conversations.has(id)) return state.conversations.get(id);
  try {
    const summary = await api.get(`/app/api/conversations/${id}`);
    mergeSummary(summary);
    renderList();
    return state.conversations.get(id);
  } catch {
    return null;
  }
}

// A chat rings when a visitor writes in it while it waits in the queue (once): a proactive
// invitation, which an operator starts and takes in one go, does not.
const rung = new Set();

function onMessage(conversationId, message) {
  const c = state.conversations.get(conversationId);
  if (c && c.status === "queued" && message.author_type === "visitor" && !rung.has(conversationId)) {
    rung.add(conversationId);
    setTimeout(() => newChatAlert(c), 0); // after the list shows it
  }
  if (!c) {
    // Its `created` frame was missed (a reconnect): load it, and ring if it waits.
    ensureSummary(conversationId).then((loaded) => {
      if (loaded?.status === "queued" && message.author_type === "visitor" && !rung.has(conversationId)) {
        rung.add(conversationId);
        newChatAlert(loaded);
      }
    });
  } else if (!c.last_seq || message.seq >= c.last_seq) {
    c.last_seq = message.seq;
    c.last_message = message;
    c.last_message_at = message.created_at;
    const looking = state.selected === conversationId && document.visibilityState === "visible";
    if (message.author_type === "visitor" && !looking) c.unread = (c.unread || 0) + 1;
  }
  const chat = state.chats.get(conversationId);
  if (chat && message.author_type === "visitor") chat.draft = null;
  if (chat && !chat.stub) {
    const result = applyMessage(chat, message);
    if (result === "gap" && !chat.resuming) {
      chat.resuming = true;
      socket.resume({ [conversationId]: chat.lastSeq });
    }
    if (state.selected === conversationId) {
      renderChat();
      renderTyping(chat);
      markRead(conversationId);
    }
  }
  renderList();
}

const accepting = new Set(); // chats this operator is accepting: their "assigned" event is no news

function onConversation(event, summary) {
  const { previous, merged } = mergeSummary(summary);
  const wasMine = previous?.assignee?.id === me.id;
  const routedToMe = event === "assigned" && previous?.status === "queued" && !accepting.has(merged.id);
  if (event === "transferred" && merged.status === "queued") newChatAlert(merged); // back in the queue, for a department
  else if (!wasMine && merged.assignee?.id === me.id && (event === "transferred" || routedToMe)) {
    notify.chime();
    notify.blinkTitle(t("notify.transferred"));
    notify.desktopNotify(t("notify.transferred"), visitorName(merged), () => openChat(merged.id));
    toast(t("notify.transferred"));
  }
  if (merged.status !== "queued" && !boxItems("queued").length) notify.stopBlinking();
  if (state.selected === merged.id) renderChatHead();
  renderList();
}

function onFrame(frame) {
  switch (frame.type) {
    case "message":
    case "ack":
      if (frame.message) onMessage(frame.conversation, frame.message);
      break;
    case "conversation":
      if (frame.conversation) onConversation(frame.event, frame.conversation);
      break;
    case "typing": {
      const chat = state.chats.get(frame.conversation);
      if (frame.side === "visitor") {
        const c = state.conversations.get(frame.conversation);
        if (chat) chat.draft = frame.on ? frame.draft ?? "" : null;
        else if (c) {
          // Not open: keep the preview for the list only.
          state.chats.set(frame.conversation, Object.assign(newChat(c), { lastSeq: -1, draft: frame.on ? frame.draft ?? "" : null, stub: true }));
        }
        renderList();
      } else if (chat && frame.name && frame.name !== me.name) {
        if (frame.on) chat.operatorsTyping.set(frame.name, Date.now() + 6000);
        else chat.operatorsTyping.delete(frame.name);
      }
      if (chat && state.selected === frame.conversation) renderTyping(chat);
      break;
    }
    case "read": {
      const c = state.conversations.get(frame.conversation);
      const chat = state.chats.get(frame.conversation);
      if (frame.side === "visitor") {
        if (c) c.visitor_read_seq = frame.seq;
        if (chat) chat.visitorRead = Math.max(chat.visitorRead, frame.seq);
        if (chat && state.selected === frame.conversation) renderChat();
      } else if (c) {
        c.operator_read_seq = Math.max(c.operator_read_seq || 0, frame.seq);
        if ((c.last_seq || 0) <= frame.seq) c.unread = 0;
        renderList();
      }
      break;
    }
    case "resumed":
      for (const id of Object.keys(frame.conversations || {})) {
        const chat = state.chats.get(Number(id));
        if (!chat) continue;
        chat.resuming = false;
        if (chat.buffer.size) refetchChat(chat);
      }
      break;
    case "presence":
      if (state.team) {
        const operator = state.team.operators.find((o) => o.id === frame.operator.id);
        if (operator) operator.status = frame.operator.status;
      }
      if (frame.operator.id === me.id) {
        me.status = frame.operator.status;
        renderStatus();
      }
      break;
    case "notice":
      if (frame.event === "invited") {
        notify.chime();
        notify.blinkTitle(t("notify.invited", { name: frame.by }));
        notify.desktopNotify(t("notify.title"), t("notify.invited", { name: frame.by }), () => openChat(frame.conversation));
        toast(t("notify.invited", { name: frame.by }));
        ensureSummary(frame.conversation);
      }
      break;
    case "visitor":
      if (frame.event === "invited") {
        const visitor = state.visitors.find((v) => v.id === frame.visitor);
        if (visitor) visitor.in_chat = true;
        renderVisitors();
      } else if (frame.visitor && typeof frame.visitor === "object") {
        upsertVisitor({
          id: frame.visitor.id,
          name: frame.visitor.name || frame.visitor.email || "",
          current_url: frame.visitor.current_url,
          current_title: frame.visitor.current_title,
          last_seen_at: frame.visitor.last_seen_at,
          ...(frame.visitor.visit_started_at ? { visit_started_at: frame.visitor.visit_started_at } : {}),
        });
        refreshCardIfShowing(frame.visitor.id);
      }
      break;
    case "error":
      toast(t("chat.error", { message: frame.message || frame.code }));
      if (state.selected) renderChat();
      break;
    default:
      break;
  }
}

// A gap the socket could not fill: ask the database over HTTP.
async function refetchChat(chat) {
  try {
    const payload = await api.get(`/app/api/conversations/${chat.id}/messages?after=${chat.lastSeq}`);
    for (const message of payload.messages) applyMessage(chat, message);
    chat.buffer.clear();
    if (state.selected === chat.id) renderChat();
  } catch {
    // The next reconnect resumes again.
  }
}

function resumePoints() {
  const points = {};
  for (const chat of state.chats.values()) if (!chat.stub && chat.lastSeq > 0) points[chat.id] = chat.lastSeq;
  return points;
}

function onSocketState(status, seconds) {
  const el = $("#conn");
  el.dataset.state = status;
  el.textContent = status === "online" ? t("conn.online") : status === "offline" ? t("conn.offline", { seconds }) : t("conn.connecting");
}

const socket = new OperatorSocket({
  path: boot.socket,
  storageKey: `parley.outbox.${boot.tenant.id}.${me.user}`,
  onFrame,
  onState: onSocketState,
  resumePoints,
  onReconnect: () => {
    loadLists();
    if (state.box === "visitors") loadVisitors();
  },
});

// --- keyboard -------------------------------------------------------------------------

function isEditable(el) {
  return el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
}

function onKey(event) {
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

// --- wiring ---------------------------------------------------------------------------

function wire() {
  state.actions = {
    openChat,
    toast,
    conversationArrived: (summary) => {
      mergeSummary(summary);
      renderList();
    },
    visitorRenamed: (card) => {
      for (const c of state.conversations.values()) {
        if (c.visitor?.id === card.id) c.visitor = { ...c.visitor, name: card.name, email: card.email };
      }
      renderList();
      if (state.selected) renderChatHead();
    },
  };
  for (const tab of $$(".boxes [data-box]")) tab.addEventListener("click", () => switchBox(tab.dataset.box));
  for (const tab of $$(".composer-tabs [data-kind]")) tab.addEventListener("click", () => focusReply(tab.dataset.kind === "note"));
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    sendCurrent();
  });
  const reply = $("#reply");
  reply.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing) {
      event.preventDefault();
      sendCurrent();
    }
  });
  reply.addEventListener("input", typingInput);
  reply.addEventListener("blur", stopTyping);
  $("#attach").addEventListener("change", (event) => {
    uploadFiles(Array.from(event.target.files || []));
    event.target.value = "";
  });
  $("#act-accept").addEventListener("click", () => accept(state.selected));
  $("#act-close").addEventListener("click", closeChat);
  $("#act-reopen").addEventListener("click", reopenChat);
  $("#act-transfer").addEventListener("click", openTransfer);
  $("#act-invite").addEventListener("click", openInvite);
  $("#act-card").addEventListener("click", () => {
    document.body.dataset.pane = document.body.dataset.pane === "card" ? "chat" : "card";
    document.body.classList.toggle("card-open");
  });
  $("#chat-back").addEventListener("click", () => {
    document.body.dataset.pane = "list";
  });
  $("#card-back").addEventListener("click", () => {
    document.body.dataset.pane = "chat";
    document.body.classList.remove("card-open");
  });
  $("#transfer-dialog").addEventListener("close", () => {
    if ($("#transfer-dialog").returnValue === "ok") submitTransfer();
  });
  $("#invite-dialog").addEventListener("close", () => {
    if ($("#invite-dialog").returnValue === "ok") submitInvite();
  });
  $("#help-open").addEventListener("click", () => $("#help-dialog").showModal());
  $("#op-status").addEventListener("change", (event) => setStatus(event.target.value));
  const enable = $("#notify-enable");
  enable.hidden = !notify.notificationsWanted();
  enable.addEventListener("click", async () => {
    await notify.askPermission();
    enable.hidden = !notify.notificationsWanted();
  });
  document.addEventListener("keydown", onKey);
  window.addEventListener("focus", () => {
    if (!boxItems("queued").length || state.selected) notify.stopBlinking();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.selected) markRead(state.selected);
  });
  notify.unlockOnGesture();
}

// Waiting times and time on site tick every second without touching the server.
function tick() {
  for (const el of $$(".live-duration[data-since]")) {
    if (el.dataset.since) el.textContent = duration(secondsSince(el.dataset.since));
  }
  const chat = state.chats.get(state.selected);
  if (chat && chat.operatorsTyping.size) renderTyping(chat);
}

wire();
renderStatus();
renderList();
socket.connect();
loadLists();
loadVisitors();
setInterval(tick, 1000);
setInterval(() => {
  if (state.box === "visitors" || document.visibilityState === "visible") loadVisitors();
}, 15000);
window.parley = { state, socket }; // for debugging and the browser test
