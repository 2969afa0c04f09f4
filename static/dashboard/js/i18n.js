// Strings come from the server, already translated (apps/dashboard/catalogue.py).

const catalogue = JSON.parse(document.getElementById("parley-i18n").textContent);

export function t(key, params) {
  let text = Object.prototype.hasOwnProperty.call(catalogue, key) ? catalogue[key] : key;
  if (params) text = text.replace(/%\((\w+)\)s/g, (_, name) => (params[name] ?? "").toString());
  return text;
}

export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 5) return t("time.now");
  if (s < 60) return t("time.s", { n: s });
  if (s < 3600) return t("time.m", { n: Math.floor(s / 60) });
  if (s < 86400) return t("time.h", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
  return t("time.d", { n: Math.floor(s / 86400) });
}

const lang = document.documentElement.lang || undefined;
const timeFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" });

export function clock(iso) {
  return iso ? timeFormat.format(new Date(iso)) : "";
}

export function dateTime(iso) {
  return iso ? dateTimeFormat.format(new Date(iso)) : "";
}
