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
      // The drawer follows the command bar in the page, so the keyboard goes into it at once.
      if (open) { const first = drawer.querySelector("button.drawer-item"); if (first) first.focus(); }
    });
    drawer.addEventListener("click", (event) => {
      const item = event.target.closest("[data-open]");
      if (!item) return;
      const level = Number(item.closest("[data-col]").dataset.col) + 1;
      closeFrom(level);
      item.setAttribute("aria-expanded", "true");
      const col = drawer.querySelector(`[data-name="${item.dataset.open}"]`);
      col.hidden = false;
      const first = col.querySelector("input:not([type=hidden]):not([readonly]), select, button.drawer-item");
      if (first) first.focus();
    });
    // Escape closes the drawer and gives the keyboard back to NEW (a modal dialog takes Escape first).
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || drawer.hidden || document.querySelector("dialog[open]")) return;
      button.click();
      button.focus();
    });
    // The quick-create form arrives (and comes back with errors, or with the new vault) by htmx: the keyboard
    // goes to its first field with an error, else to the link of the vault just created, else to its name.
    // After the settle, when htmx has bound the new form: Enter at once then sends it through htmx.
    document.body.addEventListener("htmx:afterSettle", () => {
      const form = drawer.querySelector("#quick-create");
      if (drawer.hidden || !form || form.closest("[hidden]")) return;
      const active = document.activeElement;
      if (active && active !== document.body && drawer.contains(active) && !active.matches("[data-open]")) return;
      const invalid = form.querySelector(".field .errorlist");
      const target = (invalid && invalid.closest(".field").querySelector("input:not([type=hidden]), select"))
        || form.querySelector(".created a") || form.querySelector("input[name=name]");
      if (target) target.focus();
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
      cmd.disabled = !ok || cmd.dataset.busy === "1";
    });
    document.querySelectorAll("[data-confirm-template]").forEach((cmd) => {
      cmd.setAttribute("hx-confirm", cmd.dataset.confirmTemplate.replace("{n}", String(rows.length)));
    });
    document.querySelectorAll("[data-selection-ids]").forEach((input) => {
      input.value = rows.map((row) => row.dataset.id).join(",");
    });
    document.body.dispatchEvent(new CustomEvent("portal:selection", { detail: { rows } }));
  }
  // ---- Grids: the WAI-ARIA grid pattern over the same tables ---------------
  // One row of a grid is in the Tab order (roving tabindex); arrows, Home and End move it; Space selects,
  // Ctrl+Space adds or removes a row, Shift+arrows and Shift+Space extend from the last row chosen, Ctrl+A
  // selects all (multi-select grids); Enter opens the row as its name link or a double-click does.
  // Written here because the rows are server-rendered and swapped by htmx: no widget library fits that.
  const ROWS = "tbody tr[data-id]";
  const anchors = new Map(); // table id -> data-id of the row a range starts from
  function gridRows(table) { return Array.from(table.querySelectorAll(ROWS)); }
  function initGrids() {
    document.querySelectorAll("table[data-selectable]").forEach((table) => {
      table.setAttribute("role", "grid");
      if (table.dataset.selectable === "multi") table.setAttribute("aria-multiselectable", "true");
      const rows = gridRows(table);
      rows.forEach((row) => {
        if (!row.hasAttribute("aria-selected")) row.setAttribute("aria-selected", "false");
        // A row's own links are reached through the row (Enter), not as Tab stops of their own.
        row.querySelectorAll("a[href], button, input, select").forEach((el) => { el.tabIndex = -1; });
      });
      const current = rows.find((r) => r.getAttribute("tabindex") === "0")
        || rows.find((r) => r.getAttribute("aria-selected") === "true") || rows[0];
      rows.forEach((r) => { r.tabIndex = r === current ? 0 : -1; });
    });
  }
  function focusRow(table, row) {
    gridRows(table).forEach((r) => { r.tabIndex = r === row ? 0 : -1; });
    row.focus();
  }
  // The one way rows get selected, by mouse or keyboard: "only" (a plain click or Space: this row alone, or none
  // when it was already the only one selected), "toggle" (Ctrl), "range" (Shift: from the anchor to this row).
  function selectRow(table, row, how) {
    const multi = table.dataset.selectable === "multi";
    const rows = gridRows(table);
    const mode = multi ? how : "only";
    if (mode === "range") {
      const anchor = rows.find((r) => r.dataset.id === anchors.get(table.id)) || row;
      const [from, to] = [rows.indexOf(anchor), rows.indexOf(row)].sort((a, b) => a - b);
      rows.forEach((r, i) => r.setAttribute("aria-selected", String(i >= from && i <= to)));
    } else if (mode === "toggle") {
      row.setAttribute("aria-selected", String(row.getAttribute("aria-selected") !== "true"));
      anchors.set(table.id, row.dataset.id);
    } else {
      const alone = rows.every((r) => (r.getAttribute("aria-selected") === "true") === (r === row));
      rows.forEach((r) => r.setAttribute("aria-selected", String(r === row && !alone)));
      anchors.set(table.id, row.dataset.id);
    }
    updateCommands();
  }
  function openRow(row) {
    const link = row.querySelector("a[href]");
    if (link) link.click();
    else row.dispatchEvent(new MouseEvent("dblclick", { bubbles: true }));
  }
  function onGridKey(event) {
    const row = event.target;
    if (!row.matches || !row.matches(`table[data-selectable] ${ROWS}`)) return; // keys in a row's controls are theirs
    const table = row.closest("table");
    const rows = gridRows(table);
    const at = rows.indexOf(row);
    const ctrl = event.ctrlKey || event.metaKey;
    let next = null;
    if (event.key === "ArrowDown") next = rows[Math.min(at + 1, rows.length - 1)];
    else if (event.key === "ArrowUp") next = rows[Math.max(at - 1, 0)];
    else if (event.key === "Home") next = rows[0];
    else if (event.key === "End") next = rows[rows.length - 1];
    else if (event.key === " ") {
      selectRow(table, row, event.shiftKey ? "range" : ctrl ? "toggle" : "only");
    } else if (event.key === "Enter") {
      openRow(row);
    } else if (ctrl && event.key.toLowerCase() === "a" && table.dataset.selectable === "multi") {
      rows.forEach((r) => r.setAttribute("aria-selected", "true"));
      updateCommands();
    } else return;
    event.preventDefault();
    if (!next) return;
    focusRow(table, next);
    if (event.shiftKey) selectRow(table, next, "range");
  }

  function initTables() {
    document.addEventListener("click", (event) => {
      const row = event.target.closest("table[data-selectable] tbody tr[data-id]");
      if (!row || event.target.closest("a, button, input")) return;
      const table = row.closest("table");
      const how = event.shiftKey ? "range" : event.ctrlKey || event.metaKey ? "toggle" : "only";
      gridRows(table).forEach((r) => { r.tabIndex = r === row ? 0 : -1; });
      selectRow(table, row, how);
    });
    document.addEventListener("keydown", onGridKey);
    // The command bar is a toolbar: besides Tab, Left and Right move between its enabled buttons.
    document.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      const bar = event.target.closest && event.target.closest(".commandbar");
      if (!bar || !event.target.matches("button")) return;
      const buttons = Array.from(bar.querySelectorAll("button:not([disabled])")).filter((b) => b.getClientRects().length);
      const at = buttons.indexOf(event.target);
      const next = buttons[(at + (event.key === "ArrowRight" ? 1 : buttons.length - 1)) % buttons.length];
      if (next) { event.preventDefault(); next.focus(); }
    });
    // A grid may name the command its rows open (data-open-command), for a double-click or Enter.
    document.addEventListener("dblclick", (event) => {
      const row = event.target.closest("table[data-open-command] tbody tr[data-id]");
      if (!row) return;
      const table = row.closest("table");
      gridRows(table).forEach((r) => r.setAttribute("aria-selected", String(r === row)));
      updateCommands();
      const command = document.getElementById(table.dataset.openCommand);
      if (command && !command.disabled) command.click();
    });
    // A table body swapped by htmx keeps the rows that are still there selected, and the keyboard on its row.
    // A row swapped by itself (outerHTML, the Jobs list) is gone from the page when htmx:afterSwap fires, so
    // the new content's htmx:load applies it too, whichever comes first.
    let kept = null;
    document.body.addEventListener("htmx:beforeSwap", () => {
      const active = document.activeElement;
      const row = active && active.matches && active.matches(`table[data-selectable] ${ROWS}`) ? active : null;
      kept = { ids: selectedRows().map((r) => r.dataset.id),
               focused: row ? { table: row.closest("table").id, id: row.dataset.id } : null };
    });
    function restoreKept() {
      if (kept) {
        const { ids, focused } = kept;
        kept = null;
        ids.forEach((id) => {
          const row = document.querySelector(`table[data-selectable] tbody tr[data-id="${CSS.escape(id)}"]`);
          if (row) row.setAttribute("aria-selected", "true");
        });
        initGrids();
        if (focused && (!document.activeElement || document.activeElement === document.body)) {
          const table = document.getElementById(focused.table);
          const row = table && table.querySelector(`${ROWS}[data-id="${CSS.escape(focused.id)}"]`);
          if (row) focusRow(table, row);
        }
      } else initGrids();
      updateCommands();
    }
    document.body.addEventListener("htmx:afterSwap", restoreKept);
    document.body.addEventListener("htmx:load", restoreKept);
    initGrids();
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
      // The keyboard goes to YES, Escape answers NO, and either gives it back to the command asked.
      const back = document.activeElement;
      const answer = (yes) => {
        dismiss(id);
        if (back && back.isConnected && !back.disabled) back.focus();
        resolve(yes);
      };
      note.querySelector(".note-yes").onclick = () => answer(true);
      note.querySelector(".note-no").onclick = () => answer(false);
      note.addEventListener("keydown", (event) => {
        if (event.key === "Escape") { event.preventDefault(); answer(false); }
      });
      note.querySelector(".note-yes").focus();
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
    initModalFocus();
  }

  // ---- Modal dialogs and the keyboard -----------------------------------------
  // Every modal (wizards, dialogs loaded by htmx, the job details, the vault's DELETE) opens through
  // showModal(), from templates and scripts alike; wrapping it here gives them all the same behaviour: the first
  // field takes the keyboard, Tab cycles inside the dialog, Escape closes it (the browser's own), and closing
  // gives the keyboard back to the control that opened it.
  const FIELDS = "input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])";
  const FOCUSABLE = `${FIELDS}, button:not([disabled]), a[href], [tabindex]:not([tabindex='-1'])`;
  function visible(el) { return el.getClientRects().length > 0 && !el.closest("[hidden]"); }
  function firstField(dialog) {
    const page = dialog.querySelector(".wizard-page:not([hidden])") || dialog.querySelector(".wizard-body") || dialog;
    // A field the server said is wrong comes first: the control just before its message.
    const error = Array.from(page.querySelectorAll(".field-error, .errorlist")).find((e) => e.textContent.trim());
    if (error) {
      for (let el = error.previousElementSibling; el; el = el.previousElementSibling) {
        const field = el.matches(FIELDS) ? el : el.querySelector(FIELDS);
        if (field && visible(field)) return field;
      }
    }
    return dialog.querySelector("[autofocus]")
      || Array.from(page.querySelectorAll(FIELDS)).find(visible)
      || Array.from(dialog.querySelectorAll(FOCUSABLE)).find((el) => visible(el) && !el.matches(".wizard-close"));
  }
  function initModalFocus() {
    const showModal = HTMLDialogElement.prototype.showModal;
    HTMLDialogElement.prototype.showModal = function () {
      const opener = document.activeElement;
      showModal.call(this);
      this.setAttribute("aria-modal", "true");
      this._opener = opener && opener !== document.body ? opener : null;
      const field = firstField(this);
      if (field) field.focus();
    };
    document.addEventListener("close", (event) => {
      const dialog = event.target;
      if (!(dialog instanceof HTMLDialogElement) || !dialog._opener) return;
      const opener = dialog._opener;
      dialog._opener = null;
      const again = opener.isConnected ? opener : (opener.id && document.getElementById(opener.id));
      if (again && !again.disabled) again.focus();
      else document.querySelector(`table[data-selectable] ${ROWS}[tabindex='0']`)?.focus();
    }, true);
    // Tab and Shift+Tab wrap around inside the open modal instead of leaving for the browser's own controls.
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Tab") return;
      const dialog = Array.from(document.querySelectorAll("dialog[open]")).find((d) => d.matches(":modal"));
      if (!dialog) return;
      const items = Array.from(dialog.querySelectorAll(FOCUSABLE)).filter(visible);
      if (!items.length) return;
      const at = items.indexOf(document.activeElement);
      if (event.shiftKey && at <= 0) { event.preventDefault(); items[items.length - 1].focus(); }
      else if (!event.shiftKey && (at === -1 || at === items.length - 1)) { event.preventDefault(); items[0].focus(); }
    });
    // A wizard's form swapped by its own NEXT, BACK or FINISH: the keyboard goes to the field in error, else to
    // the first field of the page shown; any other swap in a dialog only finds the keyboard a home if it lost it.
    let submitted = null;
    document.body.addEventListener("htmx:beforeSwap", (event) => {
      const target = event.detail.target;
      const dialog = target.closest && target.closest("dialog[open]");
      const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
      submitted = dialog ? { dialog, form: Boolean(elt && elt.tagName === "FORM") } : null;
    });
    document.body.addEventListener("htmx:afterSettle", () => {
      if (!submitted || !submitted.dialog.open) { submitted = null; return; }
      const { dialog, form } = submitted;
      submitted = null;
      const lost = !dialog.contains(document.activeElement);
      if (form || lost) { const field = firstField(dialog); if (field) field.focus(); }
    });
  }

  // ---- One request per click ---------------------------------------------
  // A command that posts (BACKUP NOW, VERIFY...) or a wizard's form is busy from the click until the answer: its
  // buttons are disabled and a second click or Enter sends nothing. Without this htmx queues the second request
  // and sends it after the first, which the server then refuses in red ("Another operation is in progress").
  function busyOwner(elt) {
    if (elt.matches("form")) return elt;
    if (elt.matches("button.command")) return elt;
    return null;
  }
  function initBusy() {
    // Capture on the document: this runs before the strip's hx-confirm handler, so a busy control asks nothing.
    document.addEventListener("htmx:confirm", (event) => {
      const owner = busyOwner(event.detail.elt);
      if (owner && owner.dataset.busy === "1" && event.detail.verb !== "get") {
        event.preventDefault();
        event.stopPropagation();
      }
    }, true);
    document.body.addEventListener("htmx:beforeRequest", (event) => {
      const owner = busyOwner(event.detail.elt);
      if (!owner || event.detail.requestConfig.verb === "get") return;
      owner.dataset.busy = "1";
      const controls = owner.matches("form") ? owner.querySelectorAll("button[type=submit]:not([disabled])") : [owner];
      owner._busyControls = Array.from(controls);
      owner._busyControls.forEach((control) => { control.disabled = true; });
    });
    document.body.addEventListener("htmx:afterRequest", (event) => {
      const owner = busyOwner(event.detail.elt);
      if (!owner || owner.dataset.busy !== "1") return;
      delete owner.dataset.busy;
      (owner._busyControls || []).forEach((control) => { control.disabled = false; });
      owner._busyControls = null;
      updateCommands();
    });
  }

  window.portal = { notify, dismiss, confirmInStrip, updateCommands };
  document.addEventListener("DOMContentLoaded", () => {
    initDrawer();
    initTables();
    initNotifications();
    initEvents();
    initDialogs();
    initBusy();
  });
})();
