// Strings come from the server, already translated (apps/widget/catalogue.py).

import { boot } from "./state.js";

export const S = boot.strings;

export function t(key, params) {
  let text = Object.prototype.hasOwnProperty.call(S, key) ? S[key] : key;
  if (params) text = text.replace(/%\((\w+)\)s/g, (_, name) => (params[name] ?? "").toString());
  return text;
}

export function formatTime(iso) {
  try {
    return new Date(iso).toLocaleTimeString(boot.language, { hour: "2-digit", minute: "2-digit" });
  } catch {
    return "";
  }
}
