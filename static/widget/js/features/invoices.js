// The invoice card in the chat: lines, total, due date, status; Pay opens the provider's page
// in a new tab (a link: the frame's CSP limits where forms may go). The card follows the
// invoice's `invoice` frames, so it turns "paid" as soon as the provider confirms.

import { el } from "../dom.js";
import { onFrameType, registerMessageRenderer } from "../extend.js";
import { t } from "../i18n.js";
import { boot } from "../state.js";

const latest = new Map(); // invoice id -> newest payload (frames win over the stored card)
const bubbles = new Map(); // invoice id -> bubbles showing it

// Our own relative links only; never the widget's attachment helper (it would add the visitor token).
function ownUrl(path, withLanguage = false) {
  try {
    const url = new URL(path, window.location.href);
    if (withLanguage && boot.language) url.searchParams.set("lang", boot.language);
    return url.origin === window.location.origin ? url.href : null;
  } catch {
    return null;
  }
}

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(boot.language, { style: "currency", currency }).format(Number(amount));
  } catch {
    return `${amount} ${currency}`;
  }
}

function dateText(iso) {
  try {
    return new Intl.DateTimeFormat(boot.language, { dateStyle: "medium" }).format(new Date(`${iso}T12:00:00`));
  } catch {
    return iso;
  }
}

function anchor(className, href, text) {
  const a = el("a", className, text);
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener";
  return a;
}

function fill(bubble, invoice) {
  bubble.replaceChildren();
  const card = el("div", `pw-invoice pw-invoice-${invoice.status}`);
  card.dataset.invoiceId = String(invoice.id);
  const head = el("div", "pw-inv-head");
  head.append(el("strong", "", t("invoice_title", { number: invoice.number })), el("span", "pw-inv-status", t(`invoice_status_${invoice.status}`)));
  const lines = el("ul", "pw-inv-lines");
  for (const line of invoice.lines) {
    const li = el("li");
    li.append(el("span", "", line.quantity === "1" ? line.description : `${line.description} × ${line.quantity}`), el("span", "pw-inv-amt", money(line.amount, invoice.currency)));
    lines.append(li);
  }
  const total = el("div", "pw-inv-total");
  total.append(el("span", "", t("invoice_total")), el("strong", "", money(invoice.total, invoice.currency)));
  card.append(head, lines, total);
  if (invoice.status === "sent" || invoice.status === "expired") card.append(el("div", "pw-inv-due", t("invoice_due", { date: dateText(invoice.due_date) })));
  const actions = el("div", "pw-inv-actions");
  const pay = invoice.pay_url && ownUrl(invoice.pay_url);
  if (invoice.status === "sent" && pay) actions.append(anchor("pw-inv-pay", pay, t("invoice_pay", { amount: money(invoice.total, invoice.currency) })));
  else if (invoice.status === "sent") card.append(el("div", "pw-inv-note", t("invoice_bank")));
  else if (invoice.status === "paid") card.append(el("div", "pw-inv-note pw-inv-paid", t("invoice_paid_thanks")));
  const page = ownUrl(invoice.page_url, true);
  if (page) actions.append(anchor("pw-inv-link", page, t("invoice_view")));
  const pdf = ownUrl(invoice.pdf_url, true);
  if (pdf) actions.append(anchor("pw-inv-link", pdf, "PDF"));
  card.append(actions);
  bubble.append(card);
}

registerMessageRenderer("invoice", (message, bubble, li) => {
  const stored = message.data && message.data.invoice;
  if (!stored) {
    bubble.textContent = message.body || "";
    return;
  }
  const invoice = latest.get(stored.id) || stored;
  li.classList.add("pw-has-invoice");
  if (!bubbles.has(invoice.id)) bubbles.set(invoice.id, new Set());
  bubbles.get(invoice.id).add(bubble);
  fill(bubble, invoice);
});

onFrameType("invoice", (frame) => {
  const invoice = frame.invoice;
  if (!invoice) return;
  latest.set(invoice.id, invoice);
  for (const bubble of bubbles.get(invoice.id) || []) {
    if (bubble.isConnected) fill(bubble, invoice);
    else bubbles.get(invoice.id).delete(bubble);
  }
});
