// The visitor card (who the visitor is, where they have been, notes) and the list of
// visitors on the site now, with "invite to chat".

import * as api from "./api.js";
import { renderTranscript } from "./chat.js";
import { $, clear, h, link, safeUrl } from "./dom.js";
import { asNodes, cardSectionList } from "./extend.js";
import { dateTime, duration, t } from "./i18n.js";
import { secondsSince, state } from "./state.js";

let cardVisitor = null; // the card's payload
let cardRequest = 0;

export async function loadCard(visitorId) {
  const body = $("#card-body");
  if (!visitorId) {
    clear(body);
    cardVisitor = null;
    return;
  }
  const ticket = ++cardRequest;
  try {
    const card = await api.get(`/app/api/visitors/${visitorId}`);
    if (ticket !== cardRequest) return;
    cardVisitor = card;
    renderCard(card);
  } catch (error) {
    if (ticket === cardRequest) state.actions.toast(t("chat.error", { message: error.message }));
  }
}

export function refreshCardIfShowing(visitorId) {
  if (cardVisitor && cardVisitor.id === visitorId) loadCard(visitorId);
}

export function cardVisitorId() {
  return cardVisitor ? cardVisitor.id : null;
}

function field(name, label, value, type = "text") {
  return h("label", { class: "field" }, h("span", { text: label }), h("input", { name, type, value: value || "", maxlength: 120 }));
}

function row(label, ...value) {
  return [h("dt", { text: label }), h("dd", {}, ...value)];
}

function renderCard(card) {
  const body = clear($("#card-body"));
  const form = h(
    "form",
    { class: "card-form", id: "card-form" },
    field("name", t("card.name"), card.name),
    field("email", t("card.email"), card.email, "email"),
    field("phone", t("card.phone"), card.phone, "tel"),
    h("div", { class: "row" }, h("button", { type: "submit", class: "btn small", text: t("card.save") }), h("span", { class: "muted small", id: "card-saved" })),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    try {
      const updated = await api.post(`/app/api/visitors/${card.id}`, data);
      cardVisitor = updated;
      renderCard(updated);
      $("#card-saved").textContent = t("card.saved");
      state.actions.visitorRenamed(updated);
    } catch (error) {
      state.actions.toast(t("chat.error", { message: error.message }));
    }
  });

  const timeOnSite = h("span", {
    class: "live-duration",
    dataset: card.online ? { since: card.visit_started_at } : {},
    text: duration(card.online ? secondsSince(card.visit_started_at) : card.time_on_site),
  });
  const facts = h(
    "dl",
    { class: "facts" },
    card.online ? row(t("card.online"), h("span", { class: "dot online" })) : null,
    row(t("card.page"), card.current_url ? link(card.current_url, card.current_title || card.current_url) : t("card.none")),
    row(t("card.referrer"), card.referrer ? link(card.referrer) : t("card.none")),
    row(t("card.time_on_site"), timeOnSite),
    row(t("card.browser"), [card.browser, card.os].filter(Boolean).join(" · ") || t("card.none")),
    row(t("card.language"), card.language || t("card.none")),
    row(t("card.visits"), String(card.visit_count)),
  );

  const pages = h(
    "ol",
    { class: "pages", id: "card-pages" },
    card.pages.map((p) =>
      h("li", {}, h("time", { class: "muted small", text: dateTime(p.viewed_at) }), " ", link(p.url, p.title || p.url)),
    ),
  );

  const previous = card.conversations.filter((c) => c.id !== state.selected);
  const history = h(
    "ul",
    { class: "history" },
    previous.length
      ? previous.map((c) =>
          h(
            "li",
            {},
            h("button", {
              type: "button",
              class: "btn link",
              text: `#${c.id} · ${dateTime(c.created_at)} · ${t(`status.${c.status}`)}${c.assignee ? ` · ${c.assignee}` : ""}`,
              onclick: () => openTranscript(c.id),
            }),
          ),
        )
      : h("li", { class: "muted", text: t("card.none") }),
  );

  const notesList = h(
    "ul",
    { class: "notes", id: "card-notes" },
    card.notes.map((n) =>
      h("li", {}, h("div", { class: "note-body", text: n.body }), h("div", { class: "muted small", text: `${n.author} · ${dateTime(n.created_at)}` })),
    ),
  );
  const noteForm = h(
    "form",
    { class: "note-form" },
    h("textarea", { name: "body", rows: 2, maxlength: 4000, placeholder: t("card.note_placeholder"), "aria-label": t("card.note_add") }),
    h("button", { type: "submit", class: "btn small", text: t("card.note_add") }),
  );
  noteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = noteForm.elements.body.value.trim();
    if (!text) return;
    try {
      await api.post(`/app/api/visitors/${card.id}/notes`, { body: text });
      noteForm.reset();
      loadCard(card.id);
    } catch (error) {
      state.actions.toast(t("chat.error", { message: error.message }));
    }
  });

  body.append(
    h(
      "h3",
      { class: "card-name" },
      safeUrl(card.avatar_url) ? h("img", { class: "card-avatar", src: safeUrl(card.avatar_url), alt: "", referrerpolicy: "no-referrer" }) : null,
      card.display_name || t("visitor.anonymous", { id: card.id }),
      card.verified
        ? h("span", { class: "badge verified", text: t("card.verified"), title: t("card.verified_as", { id: card.external_id }) })
        : null,
    ),
    form,
    facts,
    h("h4", { text: t("card.pages") }),
    pages,
    h("h4", { text: t("card.previous") }),
    history,
    h("h4", { text: t("card.notes") }),
    notesList,
    noteForm,
    ...cardSectionList().flatMap((render) => asNodes(render(card))),
  );
}

export async function openTranscript(conversationId) {
  const dialog = $("#transcript-dialog");
  try {
    // The whole transcript, page by page from the newest (bounded: 40 pages of 200).
    const url = `/app/api/conversations/${conversationId}/messages?limit=200`;
    let payload = await api.get(url);
    let messages = payload.messages;
    for (let page = 0; payload.has_older && page < 40; page += 1) {
      payload = await api.get(`${url}&before=${payload.before}`);
      messages = payload.messages.concat(messages);
    }
    $("#transcript-title").textContent = `${t("chat.transcript")} · #${conversationId}`;
    renderTranscript($("#transcript"), messages);
    dialog.showModal();
  } catch (error) {
    state.actions.toast(t("chat.error", { message: error.message }));
  }
}

// --- visitors on the site now ---------------------------------------------------------

export async function loadVisitors() {
  try {
    const payload = await api.get("/app/api/visitors/online");
    state.visitors = payload.visitors;
    renderVisitors();
  } catch {
    // A failed poll is retried on the next tick.
  }
}

export function upsertVisitor(visitor) {
  const index = state.visitors.findIndex((v) => v.id === visitor.id);
  if (index === -1) {
    state.visitors.unshift({ in_chat: false, ...visitor });
  } else {
    state.visitors[index] = { ...state.visitors[index], ...visitor };
  }
  renderVisitors();
}

export function renderVisitors() {
  const count = document.querySelector('[data-count="visitors"]');
  if (count) count.textContent = state.visitors.length ? String(state.visitors.length) : "";
  const root = $("#visitors");
  if (root.hidden) return;
  clear(root);
  root.append(h("h3", { class: "pane-title", text: t("visitors.title") }));
  if (!state.visitors.length) {
    root.append(h("p", { class: "muted empty", text: t("visitors.empty") }));
    return;
  }
  root.append(
    h(
      "ul",
      { class: "visitor-list" },
      state.visitors.map((v) =>
        h(
          "li",
          { class: "visitor", dataset: { visitorId: v.id } },
          h(
            "div",
            { class: "visitor-main" },
            h("strong", { text: v.name || t("visitor.anonymous", { id: v.id }) }),
            " ",
            h("span", { class: "muted small live-duration", dataset: { since: v.visit_started_at || "" }, text: duration(secondsSince(v.visit_started_at)) }),
            h("div", { class: "small ellipsis" }, v.current_url ? link(v.current_url, v.current_title || v.current_url) : ""),
            h("div", { class: "muted small", text: [v.browser, v.os, v.language].filter(Boolean).join(" · ") }),
          ),
          v.in_chat
            ? h("span", { class: "badge", text: t("visitors.in_chat") })
            : h("button", { type: "button", class: "btn small primary", text: t("visitors.invite"), onclick: () => inviteVisitor(v) }),
        ),
      ),
    ),
  );
}

async function inviteVisitor(visitor) {
  const text = window.prompt(t("visitors.invite"), t("visitors.invite_text"));
  if (!text || !text.trim()) return;
  try {
    const summary = await api.post(`/app/api/visitors/${visitor.id}/invite`, {
      body: text.trim(),
      client_id: window.crypto?.randomUUID ? window.crypto.randomUUID() : String(Date.now()),
    });
    visitor.in_chat = true;
    renderVisitors();
    state.actions.conversationArrived(summary);
    state.actions.openChat(summary.id);
  } catch (error) {
    state.actions.toast(t("chat.error", { message: error.message }));
  }
}
