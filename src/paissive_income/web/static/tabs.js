// Tabs for [data-tabs] blocks (the plan): the in-page links become an ARIA tablist.
// Without this script every panel shows, in order, and the links jump to them.
// The selected tab lives in the URL hash (#niches), so reload and back keep it.
// After replacing a block's content, call window.PlanTabs.init(block) again.
"use strict";
(function () {
  function parts(root) {
    const tabs = Array.from(root.querySelectorAll("[data-tabs-list] a[href^='#']"));
    const panels = tabs.map((tab) => document.getElementById(tab.hash.slice(1)));
    return { tabs: tabs, panels: panels };
  }

  function select(root, index, focus, keepUrl) {
    const found = parts(root);
    found.tabs.forEach((tab, i) => {
      const on = i === index;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      tab.classList.toggle("is-selected", on);
      if (found.panels[i]) found.panels[i].hidden = !on;
    });
    const tab = found.tabs[index];
    if (focus) tab.focus();
    if (!keepUrl && window.location.hash !== tab.hash) {
      history.replaceState(history.state, "", tab.hash);
    }
  }

  function indexOfHash(root, hash) {
    const found = parts(root);
    const target = hash ? document.getElementById(hash.slice(1)) : null;
    if (!target) return -1;
    // A hash may name a panel or something inside one (e.g. #niche-2).
    return found.panels.findIndex((panel) => panel && panel.contains(target));
  }

  function onKey(root, event) {
    const found = parts(root);
    const current = found.tabs.indexOf(event.target);
    if (current < 0) return;
    const last = found.tabs.length - 1;
    const moves = {
      ArrowRight: current === last ? 0 : current + 1,
      ArrowLeft: current === 0 ? last : current - 1,
      Home: 0,
      End: last,
    };
    if (event.key in moves) {
      event.preventDefault();
      select(root, moves[event.key], true);
    } else if (event.key === " ") {
      event.preventDefault();
      select(root, current, true);
    }
  }

  function init(root) {
    const found = parts(root);
    if (!found.tabs.length || found.panels.some((panel) => !panel)) return;
    const list = root.querySelector("[data-tabs-list]");
    list.setAttribute("role", "tablist");
    list.querySelectorAll("li").forEach((item) => item.setAttribute("role", "presentation"));
    found.tabs.forEach((tab, i) => {
      const panel = found.panels[i];
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", panel.id);
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id);
      panel.tabIndex = 0;
    });
    root.classList.add("tabs-ready");
    if (!root.dataset.tabsBound) {
      root.dataset.tabsBound = "1";
      root.addEventListener("click", (event) => {
        const tab = event.target.closest("[role='tab']");
        if (!tab || !root.contains(tab)) return;
        event.preventDefault();
        select(root, parts(root).tabs.indexOf(tab), true);
      });
      root.addEventListener("keydown", (event) => onKey(root, event));
    }
    const index = indexOfHash(root, window.location.hash);
    // Only a choice writes the hash: written while the page loads, the browser would scroll to
    // the panel and focus it.
    select(root, index < 0 ? 0 : index, false, true);
    const target = window.location.hash && document.getElementById(window.location.hash.slice(1));
    if (index >= 0 && target && target !== found.panels[index]) target.scrollIntoView();
  }

  function initAll() {
    document.querySelectorAll("[data-tabs]").forEach(init);
  }

  window.PlanTabs = { init: init };
  window.addEventListener("hashchange", () => {
    document.querySelectorAll("[data-tabs].tabs-ready").forEach((root) => {
      const index = indexOfHash(root, window.location.hash);
      if (index >= 0) select(root, index, false);
    });
  });
  initAll();
})();
