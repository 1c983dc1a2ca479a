// Tracing Dojo course: small enhancements only. Every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Ctrl+Enter (Cmd+Enter on a Mac) runs a query or submits an answer from its text box.
  // Where editor.js has put its editor in the box's place, the box is hidden and never gets
  // the key: the editor submits the form itself, so a form is submitted once either way.
  for (const box of document.querySelectorAll("textarea.traceql-input")) {
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && box.form) {
        event.preventDefault();
        box.form.requestSubmit();
      }
    });
    box.setAttribute("title", "Ctrl+Enter to submit");
  }
  // Copy buttons on code blocks.
  if (navigator.clipboard) {
    for (const pre of document.querySelectorAll(".code pre")) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy secondary";
      button.textContent = "Copy";
      button.addEventListener("click", async () => {
        await navigator.clipboard.writeText(pre.innerText);
        button.textContent = "Copied";
        setTimeout(() => { button.textContent = "Copy"; }, 1500);
      });
      pre.parentElement.insertBefore(button, pre);
    }
  }
});
