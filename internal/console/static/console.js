// The console's few behaviours that need script; every page works without
// it, as plain links and forms.
"use strict";
document.addEventListener("change", (e) => {
  // A realm switcher (and other selects so marked) navigates on choice.
  if (e.target.matches("select[data-autosubmit]")) e.target.form.requestSubmit();
  // A list's header checkbox ticks every row's box of the name it gives.
  const all = e.target.getAttribute("data-check-all");
  if (all) {
    for (const box of e.target.form.querySelectorAll(`input[type=checkbox][name="${all}"]`)) box.checked = e.target.checked;
  }
});
document.addEventListener("submit", (e) => {
  // Destructive forms ask first; the server still requires the form's own
  // confirmation field where losing data is at stake.
  const msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) {
    e.preventDefault();
    return;
  }
  // A second press while the page is on its way is not a second
  // submission. Disabled after this tick, so that the button's own
  // name and value still go with the form; enabled again in case the
  // answer never replaces the page (a download, an htmx swap).
  const b = e.submitter;
  if (b && !e.target.hasAttribute("hx-post")) {
    setTimeout(() => { b.disabled = true; }, 0);
    setTimeout(() => { b.disabled = false; }, 5000);
  }
});
document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-copy]");
  if (!b) return;
  const el = document.getElementById(b.getAttribute("data-copy"));
  navigator.clipboard.writeText(el.textContent.trim()).then(() => { b.textContent = "Copied"; });
});
// A form marked data-preview shows its values in the iframe it names, as
// they are typed: the iframe's URL carries them (the CSRF token stays out).
let previewTimer;
document.addEventListener("input", (e) => {
  const form = e.target.closest("form[data-preview]");
  if (!form) return;
  clearTimeout(previewTimer);
  previewTimer = setTimeout(() => {
    const values = new URLSearchParams(new FormData(form));
    values.delete("csrf");
    document.getElementById(form.dataset.preview).src = form.dataset.previewUrl + "?" + values;
  }, 400);
});
// A form that comes back refused focuses its first error: the field the
// server refused (its message is read with it), else the form's message.
// The errors are also role="alert", so screen readers announce them.
function focusFirstError(root) {
  const el = root.querySelector('[aria-invalid="true"], .error[role="alert"]');
  if (!el) return;
  if (!el.matches("input, select, textarea, fieldset")) el.tabIndex = -1;
  el.focus();
}
document.addEventListener("DOMContentLoaded", () => focusFirstError(document));
document.addEventListener("htmx:afterSwap", (e) => focusFirstError(e.detail.target));
// What a page marks data-focus (the answer of Test access, a refusal) is
// scrolled into view and focused, so that it is seen and announced.
document.querySelector("[data-focus]")?.focus();
