/* The invoice page's Print button (a static module: Parley's CSP allows no inline handler). */
for (const button of document.querySelectorAll("[data-print]")) button.addEventListener("click", () => window.print());
