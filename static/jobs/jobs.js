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
      // A running job's percent where a list shows it (Protected Items' backup), as the strip gets it.
      if (data.state === "running") {
        document.querySelectorAll(`[data-job-progress="${data.job}"]`).forEach((element) => {
          element.textContent = `${Math.max(0, Math.min(100, Math.round(Number(data.progress) || 0)))}%`;
        });
      }
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
    // Every link to a job's details opens this dialog (the Jobs tables, the strip's View Job, a View Job link);
    // the link keeps its address, so a new tab, or a page without scripts, gets the details page.
    const jobsPath = dialog.dataset.jobsPath || "/jobs/";
    const isJobDetails = (path) => path.startsWith(jobsPath) && /^\d+\/$/.test(path.slice(jobsPath.length));
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a[href]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      const url = new URL(link.href, window.location.href);
      if (url.origin !== window.location.origin || !isJobDetails(url.pathname)) return;
      event.preventDefault();
      openDetails(url.pathname);
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
