// The shell's behaviour: NEW drawer, table selection driving the command bar,
// and the notification strip fed by the page's one event stream.
(function () {
  "use strict";

  // ---- NEW drawer -------------------------------------------------------
  function initDrawer() {
    const button = document.getElementById("cmd-new");
    const drawer = document.getElementById("new-drawer");
    if (!button || !drawer) return;
    const cols = () => drawer.querySelectorAll(".drawer-col[data-col]");
    function closeFrom(level) {
      cols().forEach((col) => {
        if (Number(col.dataset.col) >= level) col.hidden = true;
        if (Number(col.dataset.col) >= level - 1) {
          col.querySelectorAll("[data-open]").forEach((b) => b.setAttribute("aria-expanded", "false"));
        }
      });
    }
    button.addEventListener("click", () => {
      const open = drawer.hidden;
      drawer.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
      if (open) closeFrom(1);
    });
    drawer.addEventListener("click", (event) => {
      const item = event.target.closest("[data-open]");
      if (!item) return;
      const level = Number(item.closest("[data-col]").dataset.col) + 1;
      closeFrom(level);
      item.setAttribute("aria-expanded", "true");
      const col = drawer.querySelector(`[data-name="${item.dataset.open}"]`);
      col.hidden = false;
      const first = col.querySelector("input, select");
      if (first) first.focus();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !drawer.hidden) button.click();
    });
  }

  // ---- Tables: selection drives the command bar ------------------------
  // A table with data-selectable has rows with data-id; commands carry
  // data-requires="one|some|any" and optionally data-requires-flag="x": every
  // selected row must have data-x="1" for the command to be enabled ("any":
  // also with nothing selected, like PROTECT, whose wizard then lists them all).
  function selectedRows() {
    return Array.from(document.querySelectorAll("table[data-selectable] tbody tr[aria-selected='true']"));
  }
  function updateCommands() {
    const rows = selectedRows();
    document.querySelectorAll(".command[data-requires]").forEach((cmd) => {
      const need = cmd.dataset.requires;
      let ok = need === "one" ? rows.length === 1 : need === "any" || rows.length >= 1;
      const flag = cmd.dataset.requiresFlag;
      if (ok && flag) ok = rows.every((row) => row.dataset[flag] === "1");
      cmd.disabled = !ok;
    });
    document.querySelectorAll("[data-confirm-template]").forEach((cmd) => {
      cmd.setAttribute("hx-confirm", cmd.dataset.confirmTemplate.replace("{n}", String(rows.length)));
    });
    document.querySelectorAll("[data-selection-ids]").forEach((input) => {
      input.value = rows.map((row) => row.dataset.id).join(",");
    });
    document.body.dispatchEvent(new CustomEvent("portal:selection", { detail: { rows } }));
  }
  function initTables() {
    document.addEventListener("click", (event) => {
      const row = event.target.closest("table[data-selectable] tbody tr[data-id]");
      if (!row || event.target.closest("a, button, input")) return;
      const table = row.closest("table");
      const multi = table.dataset.selectable === "multi" && (event.ctrlKey || event.metaKey || event.shiftKey);
      const wasSelected = row.getAttribute("aria-selected") === "true";
      if (!multi) table.querySelectorAll("tbody tr[aria-selected='true']").forEach((r) => r.setAttribute("aria-selected", "false"));
      row.setAttribute("aria-selected", String(!wasSelected));
      updateCommands();
    });
    // A table body swapped by htmx keeps the rows that are still there selected.
    document.body.addEventListener("htmx:beforeSwap", (event) => {
      event.detail.target._keepSelected = selectedRows().map((r) => r.dataset.id);
    });
    document.body.addEventListener("htmx:afterSwap", (event) => {
      const keep = event.detail.target._keepSelected || [];
      keep.forEach((id) => {
        const row = document.querySelector(`table[data-selectable] tbody tr[data-id="${CSS.escape(id)}"]`);
        if (row) row.setAttribute("aria-selected", "true");
      });
      updateCommands();
    });
    // A form with data-drop-empty leaves its empty fields out of the request, so the address it puts in the
    // address bar (a table's search and sort) reads "?sort=-name", not "?q=&sort=-name".
    document.body.addEventListener("htmx:configRequest", (event) => {
      if (!event.detail.elt.closest || !event.detail.elt.closest("[data-drop-empty]")) return;
      Array.from(event.detail.formData.entries()).forEach(([name, value]) => {
        if (value === "") event.detail.formData.delete(name);
      });
    });
    updateCommands();
  }

  // ---- Notification strip ----------------------------------------------
  const notes = new Map();
  function strip() { return document.getElementById("notifications"); }
  function setCount() {
    const unread = Array.from(notes.values()).filter((n) => !n.dataset.read).length;
    const count = document.getElementById("notify-count");
    if (count) { count.textContent = String(unread); count.dataset.count = String(unread); }
  }
  function showStrip() { const s = strip(); if (s) s.hidden = false; }
  function hideIfEmpty() { const s = strip(); if (s && notes.size === 0) s.hidden = true; }

  // notify({id, text, state: running|succeeded|failed|warning|confirm, progress, url})
  function notify(data) {
    const list = document.getElementById("notes");
    const template = document.getElementById("note-template");
    if (!list || !template) return null;
    const id = String(data.id || `note-${Date.now()}-${Math.random()}`);
    let note = notes.get(id);
    if (!note) {
      note = template.content.firstElementChild.cloneNode(true);
      note.dataset.id = id;
      note.querySelector(".note-ok").addEventListener("click", () => dismiss(id));
      list.prepend(note);
      notes.set(id, note);
    }
    note.dataset.state = data.state || "running";
    note.querySelector(".note-text").textContent = data.text || "";
    const bar = note.querySelector(".note-progress");
    const pct = Math.max(0, Math.min(100, Number(data.progress) || 0));
    bar.setAttribute("aria-valuenow", String(pct));
    bar.firstElementChild.style.width = `${pct}%`;
    // Bytes per second and time left of a job that moves data; nothing while they are unknown.
    const meta = note.querySelector(".note-meta");
    if (meta) {
      const running = note.dataset.state === "running";
      ["phase", "rate", "eta"].forEach((name) => {
        meta.querySelector(`.note-${name}`).textContent = running ? (data[name] || "") : "";
      });
      meta.hidden = !running || !(data.rate || data.phase);
    }
    const link = note.querySelector(".note-link");
    if (data.url) { link.href = data.url; link.hidden = false; } else { link.hidden = true; }
    const confirming = note.dataset.state === "confirm";
    note.querySelector(".note-yes").hidden = !confirming;
    note.querySelector(".note-no").hidden = !confirming;
    note.querySelector(".note-ok").hidden = confirming;
    delete note.dataset.read;
    showStrip();
    setCount();
    return note;
  }
  const dismissedState = new Map();
  function dismiss(id) {
    const note = notes.get(String(id));
    if (!note) return;
    dismissedState.set(String(id), note.dataset.state);
    note.remove();
    notes.delete(String(id));
    setCount();
    hideIfEmpty();
  }
  // A confirmation in the strip: resolves true on YES, false on NO.
  function confirmInStrip(text) {
    return new Promise((resolve) => {
      const id = `confirm-${Date.now()}`;
      const note = notify({ id, text, state: "confirm" });
      note.querySelector(".note-yes").onclick = () => { dismiss(id); resolve(true); };
      note.querySelector(".note-no").onclick = () => { dismiss(id); resolve(false); };
    });
  }

  function initNotifications() {
    const counter = document.getElementById("notify-counter");
    if (counter) counter.addEventListener("click", () => {
      const s = strip();
      if (!s) return;
      if (s.hidden && notes.size) { s.hidden = false; } else { s.hidden = true; }
      notes.forEach((n) => { n.dataset.read = "1"; });
      setCount();
    });
    // Notes the server rendered (work already running when the page loaded).
    document.querySelectorAll("#notes > .note[data-id]").forEach((note) => {
      notes.set(note.dataset.id, note);
      note.querySelector(".note-ok").addEventListener("click", () => dismiss(note.dataset.id));
    });
    // Notes of work already running when the page loaded, rendered by the server as JSON.
    const initial = document.getElementById("initial-notes");
    if (initial) { try { JSON.parse(initial.textContent).forEach(notify); } catch (e) { /* keep the page working */ } }
    if (notes.size) { showStrip(); setCount(); }
    // After a reconnect, ask the server for the current state of running work and of the notes shown.
    document.body.addEventListener("portal:resync", () => {
      const url = document.body.dataset.notesUrl;
      if (!url) return;
      const ids = Array.from(notes.keys()).join(",");
      fetch(`${url}?ids=${encodeURIComponent(ids)}`, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : { notes: [] }))
        .then((body) => body.notes.forEach(notify))
        .catch(() => {});
    });
    // A view answers with HX-Trigger {"portal:notice": {...}} to say something in the strip.
    document.body.addEventListener("portal:notice", (event) => notify(event.detail));
    // hx-confirm goes through the strip's YES/NO instead of window.confirm.
    document.body.addEventListener("htmx:confirm", (event) => {
      if (!event.detail.question) return;
      event.preventDefault();
      confirmInStrip(event.detail.question).then((yes) => { if (yes) event.detail.issueRequest(true); });
    });
  }

  // ---- Live events -----------------------------------------------------
  // The htmx SSE extension owns the one EventSource of the page; we add our
  // listeners to it when it opens. Every event is re-dispatched on <body> as
  // "portal:<event>" so partials can refresh with hx-trigger="portal:job from:body".
  let opened = 0;
  const handled = new WeakSet();
  function initEvents() {
    document.body.addEventListener("htmx:sseOpen", (event) => {
      const source = event.detail.source;
      opened += 1;
      if (!handled.has(source)) {
        handled.add(source);
        ["notify", "job", "vault", "item"].forEach((name) => {
          source.addEventListener(name, (message) => {
            let data = {};
            try { data = JSON.parse(message.data); } catch (e) { return; }
            if (name === "notify") notify(data);
            // A job event carries a note for the strip; only the user who started the job gets it.
            // A note dismissed with OK stays away until the job's state changes (e.g. it ends).
            if (name === "job" && data.text && String(data.user) === document.body.dataset.user
                && dismissedState.get(String(data.id)) !== data.state) notify(data);
            document.body.dispatchEvent(new CustomEvent(`portal:${name}`, { detail: data }));
          });
        });
        source.addEventListener("ready", () => { document.body.dataset.live = "1"; });
      }
      // After a reconnect, re-render from the database so nothing is missed.
      if (opened > 1) document.body.dispatchEvent(new CustomEvent("portal:resync"));
    });
  }

  // ---- Dialogs loaded by htmx --------------------------------------------
  // A <dialog data-modal> opens once htmx has processed it, so its own hx-triggers
  // already listen when the user starts typing.
  function initDialogs() {
    document.body.addEventListener("htmx:load", (event) => {
      const root = event.detail.elt;
      const dialogs = root.matches && root.matches("dialog[data-modal]") ? [root] : [];
      if (root.querySelectorAll) dialogs.push(...root.querySelectorAll("dialog[data-modal]"));
      dialogs.forEach((dialog) => { if (!dialog.open) dialog.showModal(); });
    });
  }

  window.portal = { notify, dismiss, confirmInStrip, updateCommands };
  document.addEventListener("DOMContentLoaded", () => {
    initDrawer();
    initTables();
    initNotifications();
    initEvents();
    initDialogs();
  });
})();
