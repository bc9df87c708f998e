// Work in the background, followed on the page: each job box on the campaign dashboard polls its
// job's JSON resource (GET /api/jobs/{id}) every two seconds, keeps its bar and words current, and
// reloads the page when the job finishes (the page then shows the new round or the refitted model).
// Without this script the dashboard refreshes itself every few seconds instead.
// A form with data-busy (creating a campaign) says so on its button while the server works.
"use strict";

(function () {
  const FINISHED = ["done", "failed", "cancelled"];
  const EVERY_MS = 2000;

  // The same words as chemloop/serve/web/rounds.py writes into the page.
  function duration(seconds) {
    const whole = Math.round(seconds);
    const pad = (n) => String(n).padStart(2, "0");
    if (whole < 60) return whole + " s";
    if (whole < 3600) return Math.floor(whole / 60) + " min " + pad(whole % 60) + " s";
    return Math.floor(whole / 3600) + " h " + pad(Math.floor((whole % 3600) / 60)) + " min";
  }

  function timing(job) {
    if (job.status === "queued") return "waiting for another job to finish";
    const parts = job.elapsed_s === null ? [] : [duration(job.elapsed_s) + " elapsed"];
    if (job.status === "running") {
      if (job.remaining_s === null) {
        parts.push("estimating the time left");
      } else {
        const basis = job.estimate_from === "previous job" ? " (from the previous job)" : "";
        parts.push("about " + duration(job.remaining_s) + " left" + basis);
      }
    }
    return parts.join(" · ");
  }

  // Text nodes only: a message is data, never markup.
  function show(box, job) {
    const progress = job.progress || {};
    const fraction = typeof progress.fraction === "number" ? progress.fraction : null;
    const bar = box.querySelector("progress");
    const percent = fraction === null ? null : Math.round(100 * fraction);
    if (percent === null) {
      bar.removeAttribute("value"); // an indeterminate bar: nothing measured yet
    } else {
      bar.value = percent;
      bar.textContent = percent + "%";
    }
    box.querySelector(".job-status").textContent = "(" + job.status + ")";
    box.querySelector(".job-step").textContent =
      progress.message || (job.status === "running" ? "starting" : "");
    box.querySelector(".job-percent").textContent = percent === null ? "" : "(" + percent + "%)";
    box.querySelector(".job-timing").textContent = timing(job);
  }

  async function poll(box) {
    try {
      const response = await fetch(box.dataset.poll, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.ok) {
        const job = await response.json();
        if (FINISHED.includes(job.status)) {
          window.location.reload();
          return;
        }
        show(box, job);
      }
    } catch (error) {
      // The server restarting or the network dropping for a moment: ask again at the next tick.
    }
    window.setTimeout(() => poll(box), EVERY_MS);
  }

  document.querySelectorAll(".job-progress[data-poll]").forEach((box) => {
    window.setTimeout(() => poll(box), EVERY_MS);
  });

  document.querySelectorAll("form[data-busy]").forEach((form) => {
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      if (!button) return;
      // Disabled after this event, so the form still sends; a second click cannot send it twice.
      window.setTimeout(() => {
        button.disabled = true;
        button.textContent = form.dataset.busy;
      }, 0);
    });
  });
})();
