// The Assumptions panel without a page load: a changed value is posted (the same form and route
// as without JavaScript) and #plan is swapped for the re-rendered plan the server sends back.
// The selected tab, open sections and keyboard focus stay; a live region says what happened.
// Requests go one at a time, in order, so the last change is the one that stays shown.
"use strict";
(function () {
  const DELAY_MS = 300;
  const timers = new Map();
  let queue = Promise.resolve();
  let waiting = 0; // changes queued behind the one in flight

  function announce(text) {
    let region = document.getElementById("plan-announce");
    const plan = document.getElementById("plan");
    if (!region && plan) {
      region = document.createElement("p");
      region.id = "plan-announce";
      region.className = "visually-hidden";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      plan.after(region); // outside #plan, so a swap never replaces it
    }
    if (!region) return;
    region.textContent = "";
    window.requestAnimationFrame(() => { region.textContent = text; });
  }

  // Values typed but not sent yet are kept: another field's, or this field's typed again while
  // its last value was on its way (the answer to the older value must not overwrite it).
  function unsent(plan, posted) {
    return Array.from(plan.querySelectorAll(".assumption-form [name='value']"))
      .filter((input) => input.id && input.value !== input.defaultValue)
      .filter((input) => input.form.querySelector("[name='key']").value !== posted.key
        || (posted.action === "set" && input.value !== posted.value))
      .map((input) => [input.id, input.value]);
  }

  function swap(html, fallbackId, posted) {
    const plan = document.getElementById("plan");
    const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("plan");
    if (!plan || !fresh) return false;
    const open = new Map(Array.from(plan.querySelectorAll("details[id]"), (d) => [d.id, d.open]));
    const typed = unsent(plan, posted);
    const active = document.activeElement;
    const activeId = active && plan.contains(active) ? active.id : null;
    plan.replaceChildren(...fresh.childNodes);
    plan.querySelectorAll("details[id]").forEach((details) => {
      if (open.get(details.id) || details.querySelector(".has-error")) details.open = true;
      else if (open.has(details.id)) details.open = false;
    });
    typed.forEach(([id, value]) => {
      const input = document.getElementById(id);
      if (input) input.value = value;
    });
    if (window.PlanTabs) window.PlanTabs.init(plan);
    // Focus stays where it was; a Reset button is gone after a reset, so its input gets it.
    if (activeId !== null) {
      const target = document.getElementById(activeId) || document.getElementById(fallbackId);
      if (target) target.focus({ preventScroll: true });
    }
    return true;
  }

  function fallBack(form, action) {
    // Not a plan came back (session expired, run gone): post the form itself; the page says why.
    const hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "action";
    hidden.value = action;
    form.append(hidden);
    if (!form.isConnected) document.body.append(form);
    form.submit();
  }

  function post(form, action) {
    const data = new FormData(form);
    data.set("action", action);
    const key = data.get("key");
    const field = form.querySelector("[name='value']");
    const panel = document.getElementById("assumptions-panel");
    if (panel) panel.classList.add("is-busy");
    // getAttribute: form.action would be the button named "action".
    return fetch(form.getAttribute("action"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { Accept: "text/html", "X-Plan-Fragment": "1" },
    })
      .then((response) => response.text().then((html) => ({ ok: response.ok, html: html })))
      .then((result) => {
        // A later change is queued, or typed and waiting for its debounce: show that one instead,
        // so a value the user has just typed is never overwritten by an older answer.
        if (waiting > 0 || timers.size > 0) return;
        const posted = { key: key, action: action, value: data.get("value") };
        if (!swap(result.html, field && field.id, posted)) {
          fallBack(form, action);
          return;
        }
        const error = field && document.getElementById(field.id + "-error");
        announce(result.ok ? "Plan recomputed" : error ? error.textContent : "Value refused");
      })
      .catch(() => announce("The plan could not be recomputed; check the connection and retry."))
      .finally(() => {
        const current = document.getElementById("assumptions-panel");
        if (current && waiting === 0) current.classList.remove("is-busy");
      });
  }

  function enqueue(form, action) {
    const key = form.querySelector("[name='key']").value;
    clearTimeout(timers.get(key));
    timers.delete(key);
    waiting += 1;
    queue = queue.then(() => {
      waiting -= 1;
      return post(form, action);
    });
  }

  document.addEventListener("change", (event) => {
    const form = event.target.closest && event.target.closest(".assumption-form");
    if (!form || event.target.name !== "value") return;
    const key = form.querySelector("[name='key']").value;
    clearTimeout(timers.get(key));
    timers.set(key, setTimeout(() => enqueue(form, "set"), DELAY_MS));
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.classList || !form.classList.contains("assumption-form")) return;
    event.preventDefault();
    const action = event.submitter && event.submitter.value === "reset" ? "reset" : "set";
    enqueue(form, action);
  });
})();
