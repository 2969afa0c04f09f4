// JSON over HTTP to /widget/api/, authenticated by the visitor token (never a cookie).

import { S } from "./i18n.js";
import { boot, state } from "./state.js";

export async function api(path, body, { method = "POST", form = false } = {}) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (!form && body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(boot.api + path, {
    method,
    headers,
    body: form ? body : body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    // {"error": {"code", "message", "field"}}: the one error shape of every JSON API.
    const detail = (data && data.error) || {};
    const error = new Error(detail.message || S.error);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

export function errorText(error) {
  return (error && error.message) || S.error;
}
