// Jobs page and Details dialog: turn job events into refreshes of the rows and
// dialog that show that job (each refreshes itself from the server via htmx).
(function () {
  "use strict";

  // Re-render one element (a row, the details) from the server: debounced, one request in flight at
  // a time, and one more after it when events arrived meanwhile, so the last state always lands.
  const refreshing = new Map();
  function refresh(selector) {
    const state = refreshing.get(selector) || {};
    refreshing.set(selector, state);
    if (state.busy) { state.again = true; return; }
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      const element = document.querySelector(selector);
      if (!element || !window.htmx) return;
      state.busy = true;
      window.htmx.ajax("GET", element.dataset.refresh, { target: selector, swap: "outerHTML" }).finally(() => {
        state.busy = false;
        if (state.again) { state.again = false; refresh(selector); }
      });
    }, 120);
  }

  function initJobEvents() {
    document.body.addEventListener("portal:job", (event) => {
      const data = event.detail || {};
      if (!data.job) return;
      [`#job-row-${data.job}`, `#job-details-${data.job}`].forEach((selector) => {
        if (document.querySelector(selector)) refresh(selector);
      });
      // A job the table does not show yet (just started): refresh the list.
      const table = document.getElementById("job-table");
      if (table && !document.getElementById(`job-row-${data.job}`) && data.kind === "status") {
        document.body.dispatchEvent(new CustomEvent("jobs:changed", { detail: data }));
      }
    });
    // Answers of commands (CANCEL) come back as notes for the strip.
    document.body.addEventListener("portal:message", (event) => {
      if (window.portal && event.detail) window.portal.notify(event.detail);
    });
  }

  function openDetails(url) {
    const dialog = document.getElementById("job-details-dialog");
    if (!dialog || !window.htmx) { window.location.href = url; return; }
    window.htmx.ajax("GET", url, { target: "#job-details-body", swap: "innerHTML" }).then(() => {
      if (!dialog.open) dialog.showModal();
    });
  }

  function initDialog() {
    const dialog = document.getElementById("job-details-dialog");
    if (!dialog) return;
    dialog.addEventListener("click", (event) => {
      if (event.target.closest("[data-close-dialog]")) dialog.close();
    });
    // Closing empties the body, so a closed dialog stops refreshing itself.
    dialog.addEventListener("close", () => { document.getElementById("job-details-body").innerHTML = ""; });
    document.addEventListener("click", (event) => {
      const link = event.target.closest("#job-table a.job-open");
      if (!link || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      openDetails(link.href);
    });
    document.addEventListener("dblclick", (event) => {
      const row = event.target.closest("#job-table tbody tr[data-details]");
      if (row) openDetails(row.dataset.details);
    });
    const command = document.getElementById("cmd-job-details");
    if (command) command.addEventListener("click", () => {
      const row = document.querySelector("#job-table tbody tr[aria-selected='true']");
      if (row) openDetails(row.dataset.details);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    initJobEvents();
    initDialog();
  });
})();
