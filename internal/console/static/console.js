// The console's few behaviours that need script; every page works without
// it, as plain links and forms.
"use strict";
document.addEventListener("change", (e) => {
  // A realm switcher (and other selects so marked) navigates on choice.
  if (e.target.matches("select[data-autosubmit]")) e.target.form.requestSubmit();
});
document.addEventListener("submit", (e) => {
  // Destructive forms ask first; the server still requires the form's own
  // confirmation field where losing data is at stake.
  const msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) e.preventDefault();
});
document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-copy]");
  if (!b) return;
  const el = document.getElementById(b.getAttribute("data-copy"));
  navigator.clipboard.writeText(el.textContent.trim()).then(() => { b.textContent = "Copied"; });
});
