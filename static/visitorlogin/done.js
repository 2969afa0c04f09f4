// The login's outcome: tell the chat that opened this window (the fast path; the chat's socket
// carries the same result), then close. Only Parley's own origin hears it.
document.addEventListener("DOMContentLoaded", () => {
  const node = document.getElementById("vl-result");
  const result = node ? JSON.parse(node.textContent) : null;
  if (result && window.opener && !window.opener.closed) {
    try {
      window.opener.postMessage({ parley: 1, type: "visitor-login", ok: result.ok, name: result.name || "" }, window.location.origin);
    } catch {
      /* the chat hears it over its socket */
    }
  }
  if (result && result.ok) setTimeout(() => window.close(), 1200);
});
