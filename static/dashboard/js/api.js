// JSON over HTTP to /app/api/, with the CSRF token for writes.

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : document.querySelector("meta[name=csrf-token]")?.content || "";
}

// Every JSON API answers errors as {"error": {"code", "message", "field"}} (apps/core/http.py).
export class ApiError extends Error {
  constructor(status, payload) {
    super(payload?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.payload = payload;
  }
}

async function request(method, url, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (body instanceof FormData) {
    init.body = body;
    headers["X-CSRFToken"] = csrfToken();
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
    headers["X-CSRFToken"] = csrfToken();
  }
  const response = await fetch(url, init);
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) throw new ApiError(response.status, payload);
  return payload;
}

export const get = (url) => request("GET", url);
export const post = (url, body) => request("POST", url, body ?? {});
export const upload = (url, formData) => request("POST", url, formData);
export const patch = (url, body) => request("PATCH", url, body ?? {});
export const del = (url) => request("DELETE", url);
