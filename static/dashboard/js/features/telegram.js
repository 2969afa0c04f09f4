// Telegram in the dashboard: conversations continued in Telegram carry a badge in the lists and a
// line in the chat header; the visitor card shows their Telegram chat (and whether they blocked the
// bot, in which case replies cannot reach them there).

import { get } from "../api.js";
import { h } from "../dom.js";
import { registerCardSection, registerHeaderStatus, registerListBadge } from "../extend.js";
import { dateTime, t } from "../i18n.js";

registerListBadge((summary) =>
  summary.channel === "telegram" ? h("span", { class: "badge channel-telegram", text: t("telegram.badge") }) : null,
);

registerHeaderStatus((summary) =>
  summary.channel === "telegram" ? h("span", { class: "telegram-channel", text: t("telegram.header") }) : null,
);

function chatLine(chat) {
  const who = chat.username ? `@${chat.username}` : chat.name || "";
  return h(
    "li",
    { class: chat.blocked ? "telegram-chat blocked" : "telegram-chat" },
    h("span", { class: "telegram-who", text: who }),
    chat.username && chat.name ? h("span", { class: "muted", text: ` · ${chat.name}` }) : null,
    h("span", { class: "muted small", text: ` · ${t("telegram.since", { date: dateTime(chat.started_at) })}` }),
    chat.blocked ? h("span", { class: "badge telegram-blocked", text: t("telegram.blocked") }) : null,
  );
}

registerCardSection((card) => {
  const section = h("section", { class: "telegram-card", hidden: true });
  get(`/app/api/messengers/visitors/${encodeURIComponent(card.id)}`)
    .then((data) => {
      const chats = Array.isArray(data?.telegram) ? data.telegram : [];
      if (!chats.length) return;
      section.append(h("h4", { text: t("telegram.card") }), h("ul", {}, chats.map(chatLine)));
      section.hidden = false;
    })
    .catch(() => {
      /* the card works without it */
    });
  return section;
});
