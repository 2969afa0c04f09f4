// Invoices in the dashboard: bill the visitor from the chat (lines, currency, due date,
// payment method), preview the draft, send it; the card in the chat with its live status and
// Cancel; the visitor card lists the visitor's invoices. Endpoints: /app/api/invoices/.

import * as api from "../api.js";
import { onFrameType, registerCardSection, registerComposerHelper, registerMessageRenderer } from "../extend.js";
import { $$, clear, h, link } from "../dom.js";
import { t } from "../i18n.js";
import { state } from "../state.js";

const lang = document.documentElement.lang || undefined;
const latest = new Map(); // invoice id -> newest payload seen (frames win over stored cards)
let options = null;
let current = null; // the conversation summary the composer works on
let dialog = null;
let draft = null;

export function money(amount, currency) {
  try {
    return new Intl.NumberFormat(lang, { style: "currency", currency }).format(Number(amount));
  } catch {
    return `${amount} ${currency}`;
  }
}

function dateText(iso) {
  try {
    return new Intl.DateTimeFormat(lang, { dateStyle: "medium" }).format(new Date(`${iso}T12:00:00`));
  } catch {
    return iso;
  }
}

function newest(invoice) {
  const seen = latest.get(invoice.id);
  return seen || invoice;
}

function statusBadge(status) {
  return h("span", { class: `badge invoice-status invoice-${status}`, text: t(`invoice.status.${status}`) });
}

function card(invoice) {
  const lines = h(
    "ul",
    { class: "invoice-lines" },
    invoice.lines.map((line) =>
      h(
        "li",
        {},
        h("span", { class: "invoice-desc", text: line.quantity === "1" ? line.description : `${line.description} × ${line.quantity}` }),
        h("span", { class: "invoice-amount", text: money(line.amount, invoice.currency) }),
      ),
    ),
  );
  const actions = h(
    "div",
    { class: "invoice-actions" },
    link(invoice.page_url, t("invoice.view")),
    link(invoice.pdf_url, "PDF"),
    ["sent", "expired"].includes(invoice.status)
      ? h("button", { type: "button", class: "btn small", text: t("invoice.cancel"), onclick: () => cancel(invoice) })
      : null,
  );
  return h(
    "div",
    { class: "invoice-card", dataset: { invoiceId: invoice.id } },
    h("div", { class: "invoice-head" }, h("strong", { text: t("invoice.title", { number: invoice.number }) }), statusBadge(invoice.status)),
    lines,
    h("div", { class: "invoice-total" }, h("span", { text: t("invoice.total") }), h("strong", { text: money(invoice.total, invoice.currency) })),
    h("div", { class: "muted small", text: t("invoice.due", { date: dateText(invoice.due_date) }) }),
    actions,
  );
}

async function cancel(invoice) {
  if (!window.confirm(t("invoice.cancel_confirm", { number: invoice.number }))) return;
  try {
    const payload = await api.post(`/app/api/invoices/${invoice.id}/cancel`);
    update(payload.invoice);
  } catch (error) {
    state.actions.toast(t("chat.error", { message: error.message }));
  }
}

function update(invoice) {
  const known = latest.get(invoice.id);
  latest.set(invoice.id, invoice);
  updateCard(invoice);
  if (known && known.status === invoice.status) return;
  for (const node of $$(`.invoice-card[data-invoice-id="${invoice.id}"]`)) node.replaceWith(card(invoice));
}

registerMessageRenderer("invoice", (message) => {
  const invoice = message.data && message.data.invoice;
  if (!invoice) return h("span", { text: message.body || "" });
  return card(newest(invoice));
});

onFrameType("invoice", (frame) => {
  if (frame.invoice) update(frame.invoice);
});

// --- the visitor card -------------------------------------------------------------------

const cardInvoices = new Map(); // invoice id -> payload, for the visitor shown in the card

function cardItem(invoice) {
  return h(
    "li",
    { dataset: { invoiceId: invoice.id } },
    link(invoice.page_url, invoice.number),
    ` · ${money(invoice.total, invoice.currency)} `,
    statusBadge(invoice.status),
  );
}

function renderCardList(list) {
  clear(list);
  const invoices = Array.from(cardInvoices.values()).sort((a, b) => b.id - a.id);
  if (!invoices.length) list.append(h("li", { class: "muted", text: t("card.none") }));
  for (const invoice of invoices) list.append(cardItem(invoice));
}

registerCardSection((visitorCard) => {
  const list = h("ul", { class: "history", id: "card-invoices-list" }, h("li", { class: "muted", text: "…" }));
  const section = h(
    "section",
    { class: "card-invoices", dataset: { visitor: visitorCard.id } },
    h("h4", { text: t("invoice.card_title") }),
    list,
  );
  cardInvoices.clear();
  api
    .get(`/app/api/invoices/?visitor=${visitorCard.id}`)
    .then((payload) => {
      for (const invoice of payload.invoices) cardInvoices.set(invoice.id, newest(invoice));
      if (list.isConnected) renderCardList(list);
    })
    .catch(() => clear(list));
  return section;
});

// A new or changed invoice of the visitor in the card shows there at once.
function updateCard(invoice) {
  const section = $$(`.card-invoices[data-visitor="${invoice.visitor}"]`)[0];
  if (!section || invoice.status === "draft") return;
  cardInvoices.set(invoice.id, invoice);
  renderCardList(section.querySelector("ul"));
}

// --- billing from the chat --------------------------------------------------------------

function lineRow(values = {}) {
  const remove = h("button", { type: "button", class: "btn small icon", "aria-label": t("invoice.remove_line"), text: "×" });
  const row = h(
    "div",
    { class: "invoice-line-row" },
    h("input", { name: "description", maxlength: 300, required: true, placeholder: t("invoice.description"), "aria-label": t("invoice.description"), value: values.description || "" }),
    h("input", { name: "quantity", inputmode: "decimal", required: true, "aria-label": t("invoice.quantity"), title: t("invoice.quantity"), value: values.quantity || "1" }),
    h("input", { name: "unit_price", inputmode: "decimal", required: true, placeholder: t("invoice.unit_price"), "aria-label": t("invoice.unit_price"), value: values.unit_price || "" }),
    h("input", { name: "tax_rate", inputmode: "decimal", "aria-label": t("invoice.tax_rate"), title: t("invoice.tax_rate"), placeholder: "%", value: values.tax_rate || "" }),
    remove,
  );
  remove.addEventListener("click", () => {
    if (row.parentElement.children.length > 1) row.remove();
  });
  return row;
}

function buildDialog() {
  const error = h("p", { class: "error", id: "invoice-error", hidden: true });
  const lines = h("div", { class: "invoice-line-rows", id: "invoice-lines" }, lineRow());
  const currency = h("select", { name: "currency", id: "invoice-currency" });
  const provider = h("select", { name: "provider", id: "invoice-provider" });
  const due = h("input", { type: "date", name: "due_date", id: "invoice-due" });
  const preview = h("div", { class: "invoice-preview", id: "invoice-preview", hidden: true });
  const form = h(
    "form",
    { id: "invoice-form", method: "dialog" },
    h("h2", { text: t("invoice.new") }),
    h(
      "div",
      { class: "invoice-line-head", "aria-hidden": "true" },
      h("span", { text: t("invoice.description") }),
      h("span", { text: t("invoice.quantity") }),
      h("span", { text: t("invoice.unit_price") }),
      h("span", { text: t("invoice.tax_rate") }),
    ),
    lines,
    h("button", { type: "button", class: "btn small", id: "invoice-add-line", text: t("invoice.add_line"), onclick: () => lines.append(lineRow()) }),
    h(
      "div",
      { class: "invoice-options" },
      h("label", {}, t("invoice.currency"), currency),
      h("label", {}, t("invoice.due_date"), due),
      h("label", {}, t("invoice.method"), provider),
    ),
    preview,
    error,
    h(
      "div",
      { class: "dialog-actions" },
      h("button", { type: "button", class: "btn", id: "invoice-close", text: t("invoice.close"), onclick: () => dialog.close() }),
      h("button", { type: "button", class: "btn", id: "invoice-edit", text: t("invoice.edit"), hidden: true, onclick: () => discard(true) }),
      h("button", { type: "submit", class: "btn", id: "invoice-preview-btn", text: t("invoice.preview") }),
      h("button", { type: "button", class: "btn primary", id: "invoice-send", text: t("invoice.send"), hidden: true, onclick: send }),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    createDraft();
  });
  dialog = h("dialog", { class: "dialog wide invoice-dialog", id: "invoice-dialog" }, form);
  dialog.addEventListener("close", () => {
    if (draft) discard(false);
  });
  document.body.append(dialog);
}

function showError(message) {
  const node = $$("#invoice-error")[0];
  node.textContent = message || "";
  node.hidden = !message;
}

function formLines() {
  return $$("#invoice-lines .invoice-line-row").map((row) => ({
    description: row.querySelector('[name="description"]').value,
    quantity: row.querySelector('[name="quantity"]').value,
    unit_price: row.querySelector('[name="unit_price"]').value,
    tax_rate: row.querySelector('[name="tax_rate"]').value || "0",
  }));
}

function setStage(previewing) {
  for (const row of $$("#invoice-lines input, #invoice-form select, #invoice-due")) row.disabled = previewing;
  $$("#invoice-add-line")[0].hidden = previewing;
  $$("#invoice-preview-btn")[0].hidden = previewing;
  $$("#invoice-send")[0].hidden = !previewing;
  $$("#invoice-edit")[0].hidden = !previewing;
  $$("#invoice-preview")[0].hidden = !previewing;
}

async function createDraft() {
  showError("");
  try {
    const payload = await api.post("/app/api/invoices/", {
      conversation: current.id,
      lines: formLines(),
      currency: $$("#invoice-currency")[0].value,
      due_date: $$("#invoice-due")[0].value,
      provider: $$("#invoice-provider")[0].value,
    });
    draft = payload.invoice;
    const preview = clear($$("#invoice-preview")[0]);
    preview.append(card(draft), h("p", { class: "muted small" }, link(draft.page_url, t("invoice.open_preview"))));
    setStage(true);
  } catch (error) {
    const field = error.payload?.error?.field;
    showError(field ? `${error.message} (${field})` : error.message);
  }
}

async function discard(backToEditing) {
  const stale = draft;
  draft = null;
  if (backToEditing) setStage(false);
  if (!stale) return;
  try {
    await api.post(`/app/api/invoices/${stale.id}/cancel`);
  } catch {
    // Already sent or cancelled: nothing to discard.
  }
}

async function send() {
  if (!draft) return;
  showError("");
  try {
    const payload = await api.post(`/app/api/invoices/${draft.id}/send`);
    draft = null;
    update(payload.invoice);
    dialog.close();
  } catch (error) {
    showError(error.message);
  }
}

async function openDialog() {
  if (!current) return;
  if (!dialog) buildDialog();
  try {
    options = options || (await api.get("/app/api/invoices/options"));
  } catch (error) {
    state.actions.toast(t("chat.error", { message: error.message }));
    return;
  }
  const currency = clear($$("#invoice-currency")[0]);
  for (const c of options.currencies) currency.append(h("option", { value: c.code, text: c.code }));
  currency.value = options.default_currency;
  const provider = clear($$("#invoice-provider")[0]);
  for (const p of options.providers) provider.append(h("option", { value: p.value, text: p.label }));
  provider.value = options.default_provider;
  const due = new Date(Date.now() + options.default_due_days * 86400000);
  $$("#invoice-due")[0].value = due.toISOString().slice(0, 10);
  clear($$("#invoice-lines")[0]).append(lineRow());
  draft = null;
  setStage(false);
  showError("");
  dialog.showModal();
  $$("#invoice-lines input")[0].focus();
}

let billButton = null;

registerComposerHelper({
  mount(container) {
    billButton = h("button", { type: "button", class: "btn small invoice-bill", id: "invoice-bill", text: t("invoice.bill"), onclick: openDialog });
    container.append(billButton);
  },
  opened(summary) {
    current = summary;
    if (billButton) billButton.hidden = !summary || summary.status === "closed";
  },
});
