// The molecule grid: "Copy SMILES" buttons. They are hidden in the page and shown here, so a
// browser without scripts shows no button that does nothing.
"use strict";

(function () {
  const buttons = document.querySelectorAll("button.copy[data-copy]");
  if (!buttons.length) return;

  // The clipboard API needs a secure context (https or localhost); elsewhere, a hidden textarea.
  async function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("copy refused");
  }

  function say(button, text) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = text;
    window.setTimeout(() => {
      button.textContent = label;
    }, 1500);
  }

  for (const button of buttons) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await copy(button.dataset.copy);
        say(button, "Copied");
      } catch (err) {
        say(button, "Copy failed");
      }
    });
  }
})();
