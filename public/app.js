// Dashboard behaviour that htmx attributes cannot express: open/close the dialog, toasts for server
// events and failed requests, copy buttons, and relative times that keep ticking. No inline script.
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
    // A click on the backdrop (outside the dialog's article) closes it.
    if (target instanceof HTMLDialogElement) closeModal();
  });

  // Deferred: htmx fires the other events of the same response on the (dialog's) element after this one.
  document.addEventListener("closeModal", () => setTimeout(closeModal, 0));
  document.addEventListener("toast", (event) => toast(event.detail.message, event.detail.kind));

  // Failed requests: the server answers htmx with a plain-text message.
  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    const text = (xhr.responseText || "").trim();
    toast(text && text.length < 300 && !text.startsWith("<") ? text : `Request failed (HTTP ${xhr.status})`, "error");
  });
  document.addEventListener("htmx:sendError", () => toast("Could not reach the server. Is it running?", "error"));

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
