// The review page: post a choice or a rating with fetch, swap in the next pair without a reload,
// and time each swap from the click (or key) to the new pair painted. Undo takes back the
// chemist's last pair and shows it again; the counter follows every change.
"use strict";

(function () {
  const root = document.getElementById("review");
  if (!root) return;
  const status = document.getElementById("review-status");
  const done = document.getElementById("review-done");
  const pairBox = root.querySelector(".pair");
  const choiceBox = root.querySelector(".choices");
  const cards = { a: document.getElementById("card-a"), b: document.getElementById("card-b") };
  const counter = document.getElementById("review-count");
  const undoButton = root.querySelector("[data-undo]");
  const skipped = []; // pairs passed over in this visit: the server will not offer them again
  const times = [];
  let busy = false;

  function say(text) {
    status.textContent = text;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || "");
      throw new Error(response.status === 401 ? "Sign in again: the server did not accept your key." : detail);
    }
    return data;
  }

  // Fill one card with plain text nodes only: a SMILES is data, never markup.
  function fill(card, molecule) {
    card.dataset.smiles = molecule.smiles;
    const img = card.querySelector("img");
    img.src = molecule.image;
    img.alt = "Structure of " + molecule.smiles;
    const link = card.querySelector(".smiles a");
    link.href = molecule.url;
    link.textContent = molecule.smiles;
    const facts = card.querySelector(".facts");
    facts.replaceChildren(
      ...molecule.facts.flatMap(([label, text]) => {
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.textContent = label;
        dd.textContent = text;
        return [dt, dd];
      })
    );
    const alerts = card.querySelector(".alerts");
    alerts.replaceChildren(
      ...molecule.alerts.map((text) => {
        const li = document.createElement("li");
        li.textContent = text;
        return li;
      })
    );
    card.querySelectorAll("[data-rating]").forEach((b) => b.setAttribute("aria-pressed", "false"));
    return img.decode().catch(() => undefined); // resolves once the depiction can be painted
  }

  function afterPaint() {
    // The second animation frame starts after the first one (holding the new pair) was painted.
    return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  }

  function record(ms) {
    times.push(ms);
    root.dataset.lastMs = ms.toFixed(1);
    root.dataset.times = times.map((t) => t.toFixed(1)).join(",");
    root.dataset.swaps = String(times.length);
  }

  function count(counts) {
    if (!counts) return;
    counter.textContent = counts.text;
    undoButton.disabled = !counts.by_you;
  }

  async function show(pair) {
    if (pair) {
      pairBox.hidden = false;
      choiceBox.hidden = false;
      done.hidden = true;
      await Promise.all([fill(cards.a, pair.a), fill(cards.b, pair.b)]);
    } else {
      pairBox.hidden = true;
      choiceBox.hidden = true;
      done.hidden = false;
    }
  }

  async function undo() {
    if (busy || root.dataset.signedIn !== "yes") return;
    busy = true;
    const started = performance.now();
    try {
      const data = await post(root.dataset.undoUrl, {});
      await show(data.pair);
      await afterPaint();
      record(performance.now() - started);
      count(data.counts);
      const pref = data.undone;
      const what = pref.preferred.toUpperCase() + " is better (" + pref.smiles_a + " vs " + pref.smiles_b + ")";
      say("Undone: " + what + ". Choose again.");
    } catch (error) {
      say(error.message);
    } finally {
      busy = false;
    }
  }

  async function choose(choice) {
    if (busy || root.dataset.signedIn !== "yes" || pairBox.hidden) return;
    busy = true;
    const started = performance.now();
    const a = cards.a.dataset.smiles;
    const b = cards.b.dataset.smiles;
    try {
      const data = await post(root.dataset.choiceUrl, { smiles_a: a, smiles_b: b, choice, skipped });
      if (choice === "skip") skipped.push([a, b]);
      if (skipped.length > 500) skipped.shift(); // the server takes at most 1,000
      await show(data.pair);
      await afterPaint();
      const ms = performance.now() - started;
      record(ms);
      count(data.counts);
      const what = choice === "skip" ? "Skipped" : "Recorded: " + choice.toUpperCase() + " is better";
      say(what + " (next pair in " + Math.round(ms) + " ms).");
    } catch (error) {
      say(error.message);
    } finally {
      busy = false;
    }
  }

  async function rate(side, rating) {
    if (root.dataset.signedIn !== "yes" || pairBox.hidden) return;
    const card = cards[side];
    try {
      await post(root.dataset.ratingUrl, { smiles: card.dataset.smiles, rating });
      card.querySelectorAll("[data-rating]").forEach((button) => {
        button.setAttribute("aria-pressed", String(Number(button.dataset.rating) === rating));
      });
      say("Rated " + side.toUpperCase() + " " + rating + " of 5.");
    } catch (error) {
      say(error.message);
    }
  }

  root.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || button.disabled) return;
    if (button.dataset.undo) undo();
    else if (button.dataset.choice) choose(button.dataset.choice);
    else if (button.dataset.rating) rate(button.dataset.side, Number(button.dataset.rating));
  });

  const KEYS = { ArrowLeft: "a", KeyA: "a", ArrowRight: "b", KeyB: "b", Space: "skip", KeyS: "skip" };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (event.target.closest("input, textarea, select")) return;
    const digit = /^Digit([1-5])$/.exec(event.code);
    if (digit) {
      event.preventDefault();
      rate(event.shiftKey ? "b" : "a", Number(digit[1]));
    } else if ((event.code === "KeyU" || event.code === "Backspace") && !event.shiftKey) {
      event.preventDefault(); // Backspace would also navigate back in some browsers
      undo();
    } else if (KEYS[event.code] && !event.shiftKey) {
      event.preventDefault(); // Space would also press a focused button or scroll the page
      choose(KEYS[event.code]);
    }
  });
})();
