// pseudovault console: progressive enhancement only; every form works without this file.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement)) { return; }
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  var working = form.getAttribute("data-progress");
  var button = form.querySelector("button[type=submit]");
  if (working && button) {
    button.disabled = true;
    button.textContent = working;
    button.setAttribute("aria-busy", "true");
  }
});
