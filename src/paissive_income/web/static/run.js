// Live progress of a run: follows the server-sent events of /runs/<id>/events.
"use strict";
(function () {
  const root = document.getElementById("run-live");
  if (!root || !root.dataset.events || !window.EventSource) return;
  const STATES = { waiting: "waiting", running: "running", done: "done", skipped: "done" };
  const LABELS = {};
  root.querySelectorAll(".stage").forEach((item) => {
    LABELS[item.dataset.stage] = item.querySelector(".stage-name").textContent;
  });
  const announce = document.getElementById("run-announce");
  const statusText = document.getElementById("run-status");

  function stageItem(name) {
    return root.querySelector('.stage[data-stage="' + CSS.escape(name || "") + '"]');
  }

  function setStage(name, state, seconds, startedAt) {
    const item = stageItem(name);
    if (!item) return;
    item.dataset.state = state;
    item.className = "stage stage-" + state;
    item.querySelector(".stage-state").textContent = STATES[state] || state;
    if (startedAt) item.dataset.started = startedAt;
    else delete item.dataset.started;
    if (typeof seconds === "number") {
      item.querySelector(".stage-time").textContent = seconds.toFixed(1) + " s";
    }
  }

  function tick() {
    root.querySelectorAll('.stage[data-state="running"][data-started]').forEach((item) => {
      const began = Date.parse(item.dataset.started);
      if (!Number.isNaN(began)) {
        const seconds = Math.max(0, (Date.now() - began) / 1000);
        item.querySelector(".stage-time").textContent = seconds.toFixed(0) + " s";
      }
    });
  }

  function say(text) {
    announce.textContent = text;
  }

  function handle(event) {
    const detail = event.detail || {};
    const label = LABELS[event.stage] || event.stage;
    if (event.kind === "stage_started") {
      setStage(event.stage, "running", null, event.at);
      statusText.textContent = "running";
      say(label + " started.");
    } else if (event.kind === "stage_finished") {
      setStage(event.stage, "done", detail.seconds);
      say(label + " done.");
    } else if (event.kind === "stage_skipped") {
      setStage(event.stage, "done");
    } else if (event.kind === "progress") {
      if (detail.step) document.getElementById("run-step").textContent = detail.step;
      if (typeof detail.tokens === "number") {
        document.getElementById("run-tokens").textContent = detail.tokens.toLocaleString("en-US");
      }
    } else if (event.kind === "released") {
      // The worker stopped (a deploy): the run is queued again and the next worker resumes it.
      const item = stageItem(event.stage);
      if (item && item.dataset.state === "running") setStage(event.stage, "waiting");
      statusText.textContent = "queued";
      if (detail.step) document.getElementById("run-step").textContent = detail.step;
      say("The worker stopped; the run waits for another worker. Finished stages are kept.");
    } else if (event.kind === "run_finished") {
      statusText.textContent = String(detail.status || "finished").replace("_", " ");
      say("The run has finished: " + statusText.textContent + ".");
    }
  }

  const source = new EventSource(root.dataset.events);
  source.onmessage = (message) => {
    try {
      handle(JSON.parse(message.data));
    } catch (error) {
      // A malformed event must not stop the rest from being shown.
    }
  };
  source.addEventListener("end", () => {
    source.close();
    document.getElementById("run-done").classList.remove("hidden");
    // The finished page shows the plan summary or the error, rendered by the server.
    window.setTimeout(() => window.location.reload(), 300);
  });
  window.setInterval(tick, 1000);
  tick();
})();
