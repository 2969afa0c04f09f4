// "Continue in Telegram": when the tenant has a working Telegram bot (config.telegram), a button
// above the reply box asks Parley for a single-use deep link (t.me/<bot>?start=<token>) and opens
// it; the Telegram chat then joins this visitor and this conversation. If the browser blocks the
// new tab, the link is shown to tap instead.

import { api, errorText } from "../api.js";
import { $, el } from "../dom.js";
import { t } from "../i18n.js";
import { cfg, state } from "../state.js";

const ICON =
  "M9.8 15.3 9.4 20c.6 0 .9-.3 1.2-.6l2.9-2.8 6 4.4c1.1.6 1.9.3 2.2-1l4-18.7c.4-1.6-.6-2.3-1.7-1.9L.6 8.7c-1.6.6-1.6 1.5-.3 1.9l6 1.9L20.3 4c.7-.4 1.3-.2.8.3z";

function telegramIcon() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 26 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICON);
  svg.append(path);
  return svg;
}

function mount() {
  const compose = $("pw-compose");
  if (!cfg.telegram || !cfg.telegram.bot || !compose) return;
  const bar = el("div", "pw-channels");
  bar.id = "pw-channels";
  const button = el("button", "pw-tg");
  button.type = "button";
  button.id = "pw-telegram";
  button.append(telegramIcon(), el("span", "", t("telegram_continue")));
  const note = el("p", "pw-tg-note");
  note.setAttribute("role", "status");
  bar.append(button, note);
  compose.before(bar);

  button.addEventListener("click", async () => {
    button.disabled = true;
    note.textContent = "";
    // Opened at once, inside the click, so no popup blocker stops it; pointed at the link when it comes.
    const tab = window.open("", "_blank");
    try {
      const body = state.conversation ? { conversation: state.conversation } : {};
      const { url } = await api("telegram/link", body);
      if (!/^https:\/\/t\.me\/[A-Za-z0-9_]+\?start=[A-Za-z0-9_-]+$/.test(url)) throw new Error(t("error"));
      if (tab && !tab.closed) {
        tab.opener = null;
        tab.location.href = url;
        note.textContent = t("telegram_opened");
      } else {
        const link = el("a", "pw-tg-link", t("telegram_open_link"));
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener";
        note.replaceChildren(link);
      }
    } catch (error) {
      if (tab && !tab.closed) tab.close();
      note.textContent = errorText(error);
    } finally {
      button.disabled = false;
    }
  });
}

mount();
