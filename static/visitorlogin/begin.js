// The popup's first page goes straight on to the provider (a POST, as allauth wants it); the
// button stays for browsers that block the automatic step.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("vl-continue");
  if (form) form.submit();
});
