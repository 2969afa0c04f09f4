/* Copy buttons (get-started page): a static module, since Parley's CSP allows no inline script. */
for (const button of document.querySelectorAll(".copy-button")) {
  const label = button.textContent;
  button.addEventListener("click", async () => {
    const text = document.getElementById(button.dataset.copyTarget).textContent.trim();
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Without clipboard access (plain http, old browser) select the text so Ctrl-C works.
      const range = document.createRange();
      range.selectNodeContents(document.getElementById(button.dataset.copyTarget));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      return;
    }
    button.textContent = button.dataset.copiedLabel;
    setTimeout(() => { button.textContent = label; }, 2000);
  });
}
