// Dashboard behaviour that htmx attributes cannot express: open/close the dialog, toasts for server
// events and failed requests, copy buttons, relative times that keep ticking, and the live parts
// (polling with backoff, morphed in place, announced once when they finish). No inline script.
(() => {
  const toasts = () => document.getElementById("toasts");

  function toast(message, kind = "success") {
    const region = toasts();
    if (!region || !message) return;
    const item = document.createElement("div");
    item.className = `toast toast-${kind}`;
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    item.textContent = message;
    region.append(item);
    setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
  }

  function closeModal() {
    const dialog = document.querySelector("#modal dialog");
    if (dialog) {
      dialog.close();
      dialog.remove();
    }
  }

  document.addEventListener("htmx:afterSwap", (event) => {
    const dialog = document.querySelector("#modal dialog");
    if (dialog && !dialog.open && event.detail.target.id === "modal") dialog.showModal();
  });

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    // A control shown as unavailable (aria-disabled, so it keeps the keyboard focus) does nothing.
    if (target.closest('[aria-disabled="true"]')) {
      event.preventDefault();
      return;
    }
    if (target.closest("[data-close-modal]")) {
      event.preventDefault();
      closeModal();
      return;
    }
    const copy = target.closest("[data-copy]");
    if (copy) {
      navigator.clipboard?.writeText(copy.getAttribute("data-copy") ?? "").then(
        () => toast("Copied to the clipboard"),
        () => toast("Could not copy", "error"),
      );
    }
    // A click on the backdrop (outside the dialog's article) closes it: only when the press began there
    // too, so a click that starts on a field or a button and ends beside it never discards the form.
    if (target instanceof HTMLDialogElement && pressedOn === target) closeModal();
  });
  let pressedOn = null;
  document.addEventListener("pointerdown", (event) => (pressedOn = event.target), true);

  // A field checked as it is typed (the job form): its input is invalid, and described by what is said
  // under it, exactly while the check's answer says so.
  document.addEventListener("htmx:load", (event) => {
    const feedback = event.detail.elt;
    const input = feedback instanceof HTMLElement && feedback.dataset.feedbackFor ? document.getElementById(feedback.dataset.feedbackFor) : null;
    if (!input) return;
    const said = feedback.querySelector("small");
    if (feedback.querySelector(".field-error")) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    if (said) input.setAttribute("aria-describedby", said.id);
    else input.removeAttribute("aria-describedby");
  });

  // Deferred: htmx fires the other events of the same response on the (dialog's) element after this one.
  document.addEventListener("closeModal", () => setTimeout(closeModal, 0));
  document.addEventListener("toast", (event) => toast(event.detail.message, event.detail.kind));

  // Live parts. An element with data-poll="<url>" re-requests itself every data-poll-every ms and is
  // morphed in place (idiomorph), so only what changed is touched: focus and scroll stay, and a
  // <details> the reader opened or closed stays that way. It stops when the server renders it without
  // data-poll (the job is done), and then its data-announce text is said once. A failed poll is tried
  // again after 2, 4, 8 ... 60 s, and the page says that live updates are paused meanwhile.
  const timers = new Map();
  const inFlight = new Set();
  const failures = new Map();
  /** Elements that poll: their failed requests are retried quietly, never toasted. */
  const pollers = new WeakSet();

  function schedule(elt, ms) {
    clearTimeout(timers.get(elt));
    timers.set(elt, setTimeout(() => poll(elt), ms));
  }

  function watch(root) {
    const elts = root.matches?.("[data-poll]") ? [root] : [];
    for (const elt of elts.concat([...(root.querySelectorAll?.("[data-poll]") ?? [])])) {
      if (!timers.has(elt) && !inFlight.has(elt)) schedule(elt, Number(elt.dataset.pollEvery) || 1000);
    }
  }

  function stopWatching(elt) {
    failures.delete(elt);
    showPaused(failures.size > 0);
  }

  function poll(elt) {
    timers.delete(elt);
    if (!elt.isConnected || !elt.dataset.poll) return stopWatching(elt);
    if (document.hidden) return schedule(elt, Number(elt.dataset.pollEvery) || 1000);
    inFlight.add(elt);
    pollers.add(elt);
    // The promise rejects when the request fails; htmx:afterRequest below already handles that.
    htmx.ajax("GET", elt.dataset.poll, { source: elt, target: elt, swap: "morph" }).catch(() => undefined);
  }

  const liveStatus = () => document.getElementById("live-status");
  function showPaused(paused) {
    const status = liveStatus();
    if (!status || status.hidden === !paused) return;
    status.textContent = paused ? "Live updates paused: the server did not answer. Retrying…" : "";
    status.hidden = !paused;
  }

  function announce(text) {
    const region = document.getElementById("announcer");
    if (region && text) region.textContent = text;
  }

  // A poll answered after the element moved on (another page of the inbox or of a job's runs was
  // asked for meanwhile) must not put the old page back.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const config = event.detail.requestConfig;
    const source = config?.elt;
    if (source && inFlight.has(source) && config.path !== source.dataset.poll) event.detail.shouldSwap = false;
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    const elt = event.detail.elt;
    if (!inFlight.delete(elt)) return;
    // Gone (the job was deleted meanwhile): nothing more to watch.
    if (event.detail.xhr?.status === 404) return stopWatching(elt);
    if (!event.detail.successful) {
      const n = (failures.get(elt) ?? 0) + 1;
      failures.set(elt, n);
      showPaused(true);
      return schedule(elt, Math.min(60_000, 2000 * 2 ** (n - 1)));
    }
    stopWatching(elt);
    if (elt.dataset.poll) schedule(elt, Number(elt.dataset.pollEvery) || 1000);
    else announce(elt.dataset.announce);
  });

  // An answer that removes the focused control (Cancel run, once cancelled) must not drop keyboard focus
  // to the start of the page: it moves to the swapped part's data-focus-fallback (the job's status).
  const focusWasIn = new WeakSet();
  document.addEventListener("htmx:beforeSwap", (event) => {
    const focused = document.activeElement;
    if (focused && focused !== document.body && event.detail.target?.contains(focused)) focusWasIn.add(event.detail.xhr);
  });
  document.addEventListener("htmx:afterSettle", (event) => {
    if (!focusWasIn.delete(event.detail.xhr)) return;
    if (document.activeElement && document.activeElement !== document.body) return;
    event.detail.target?.querySelector("[data-focus-fallback]")?.focus();
  });

  // New content (a refreshed table, a new row) may hold live parts of its own.
  document.addEventListener("htmx:load", (event) => watch(event.detail.elt));
  document.addEventListener("DOMContentLoaded", () => watch(document.body));

  // The server renders which <details> start open; once the reader opens or closes one, that is theirs.
  document.addEventListener("click", (event) => {
    const summary = event.target instanceof Element ? event.target.closest("summary") : null;
    if (summary?.parentElement instanceof HTMLDetailsElement) summary.parentElement.dataset.userToggled = "true";
  });
  document.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target instanceof HTMLElement && event.target.tagName === "SUMMARY") {
      event.target.parentElement.dataset.userToggled = "true";
    }
  });
  // A row's selection box is the reader's too: a refresh of the row never unticks it.
  if (window.Idiomorph) {
    window.Idiomorph.defaults.callbacks.beforeAttributeUpdated = (name, node) =>
      !(
        ((name === "open" || name === "data-user-toggled") && node instanceof HTMLDetailsElement && node.dataset.userToggled === "true") ||
        (name === "checked" && node instanceof HTMLInputElement && node.hasAttribute("data-keep-checked"))
      );
  }

  // Failed requests: the server answers htmx with a plain-text message. A failed poll says so once, above.
  document.addEventListener("htmx:responseError", (event) => {
    if (pollers.has(event.detail.elt)) return;
    const xhr = event.detail.xhr;
    const text = (xhr.responseText || "").trim();
    toast(text && text.length < 300 && !text.startsWith("<") ? text : `Request failed (HTTP ${xhr.status})`, "error");
  });
  document.addEventListener("htmx:sendError", (event) => {
    if (!pollers.has(event.detail.elt)) toast("Could not reach the server. Is it running?", "error");
  });

  // Relative times: re-render "3 s ago" every 10 s from the datetime attribute.
  function relative(iso) {
    const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    const s = Math.abs(seconds);
    if (s < 5) return "just now";
    const text = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86400 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86400)} d`;
    return seconds < 0 ? `in ${text}` : `${text} ago`;
  }
  setInterval(() => {
    for (const el of document.querySelectorAll("time[datetime]")) el.textContent = relative(el.getAttribute("datetime"));
  }, 10000);
})();
