// What an operator does to a conversation (accept, close, reopen, transfer, invite) and to
// themselves (status). Actions go over the socket and resolve with the server's answer.

import * as api from "./api.js";
import { toast } from "./attention.js";
import { composeKind } from "./composer.js";
import { socket } from "./connection.js";
import { $, append, clear, h } from "./dom.js";
import { t } from "./i18n.js";
import { boxItems } from "./list.js";
import * as notify from "./notify.js";
import { openChat } from "./pane.js";
import { me, state } from "./state.js";

const ACCEPTING_FOR = 5000;

// Chats this operator is accepting: their "assigned" event is no news.
export const accepting = new Set();

async function act(frame) {
  try {
    return await socket.request(frame);
  } catch (error) {
    toast(t("chat.error", { message: error.message }));
    return null;
  }
}

export async function accept(id) {
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
  setTimeout(() => accepting.delete(target), ACCEPTING_FOR);
  if (answer) {
    if (state.selected !== target) await openChat(target);
    focusReply();
  }
}

export async function closeChat() {
  const c = state.conversations.get(state.selected);
  if (c && c.status !== "closed") await act({ type: "close", conversation: c.id });
}

export async function reopenChat() {
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

export async function openTransfer() {
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

export async function submitTransfer() {
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

export async function openInvite() {
  const c = state.conversations.get(state.selected);
  if (!c || c.status === "closed") return;
  const team = await loadTeam().catch(() => null);
  if (!team) return;
  const select = clear($("#invite-operator"));
  append(select, team.operators.filter((o) => o.id !== me.id && o.id !== c.assignee?.id).map(operatorOption));
  $("#invite-error").hidden = true;
  $("#invite-dialog").showModal();
}

export async function submitInvite() {
  const operator = Number($("#invite-operator").value);
  if (!operator) return;
  try {
    await api.post(`/app/api/conversations/${state.selected}/invite`, { operator });
  } catch (error) {
    toast(t("chat.error", { message: error.message }));
  }
}

export function focusReply(noteMode = false) {
  if (!state.selected) return;
  composeKind(noteMode ? "note" : "text");
  document.body.dataset.pane = "chat";
  $("#reply").focus();
}

export async function setStatus(status) {
  try {
    const payload = await api.post("/app/api/status", { status });
    me.status = payload.status;
  } catch (error) {
    toast(t("chat.error", { message: error.message }));
  }
  renderStatus();
}

export function renderStatus() {
  $("#op-status").value = me.status;
  $("#op-status-dot").className = `dot ${me.status}`;
}
