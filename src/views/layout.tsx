/** The page shell: header, sidebar, main area, the modal slot and the toast region. */
import type { Child } from "hono/jsx";

/** htmx settings: no implicit attribute inheritance, no eval, no inline styles; 422 (form errors) swaps. */
export const htmxConfig = {
  disableInheritance: true,
  allowEval: false,
  includeIndicatorStyles: false,
  historyCacheSize: 0,
  responseHandling: [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "422", swap: true },
    { code: "[45]..", swap: false, error: true },
  ],
};

export type Section = "overview" | "jobs" | "logs" | "inbox";

interface LayoutProps {
  title: string;
  section: Section;
  inboxEnabled: boolean;
  signedIn: boolean;
  children: Child;
}

export function Layout({ title, section, inboxEnabled, signedIn, children }: LayoutProps) {
  const nav = (href: string, key: Section, label: string) => (
    <li>
      <a href={href} aria-current={section === key ? "page" : undefined}>
        {label}
      </a>
    </li>
  );
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <meta name="htmx-config" content={JSON.stringify(htmxConfig)} />
        <title>{`${title} · Edge Job Scheduler`}</title>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/vendor/pico.min.css" />
        <link rel="stylesheet" href="/app.css" />
        <script src="/vendor/htmx.min.js" defer></script>
        <script src="/vendor/idiomorph-ext.min.js" defer></script>
        <script src="/app.js" defer></script>
      </head>
      {/* morph: live parts are patched in place, keeping what a person opened or focused. */}
      <body hx-ext="morph">
        <a class="skip-link" href="#main">
          Skip to content
        </a>
        <header class="topbar">
          <a href="/" class="brand">
            <span aria-hidden="true">◷</span> Edge Job Scheduler
          </a>
          {signedIn ? (
            <form method="post" action="/logout" class="topbar-links">
              <button type="submit" class="secondary outline">
                Sign out
              </button>
            </form>
          ) : null}
        </header>
        <div class={signedIn ? "shell" : "shell no-sidebar"}>
          {signedIn ? (
            <nav class="sidebar" aria-label="Main">
              <ul>
                {nav("/overview", "overview", "Overview")}
                {nav("/", "jobs", "Jobs")}
                {nav("/logs", "logs", "Webhook logs")}
                {inboxEnabled ? nav("/inbox", "inbox", "Webhook inbox") : null}
              </ul>
            </nav>
          ) : null}
          <main id="main" class="content">
            {children}
          </main>
        </div>
        <div id="modal"></div>
        <div id="toasts" class="toasts" role="status" aria-live="polite"></div>
        {/* What changed that matters (a run finished), said once; never the polls themselves. */}
        <div id="announcer" class="visually-hidden" role="status" aria-live="polite"></div>
        <p id="live-status" class="live-status" role="status" hidden></p>
      </body>
    </html>
  );
}

/** A dialog for htmx-loaded forms; app.js opens it with showModal() once swapped in. */
export const Modal = ({ title, children }: { title: string; children: Child }) => (
  <dialog aria-labelledby="modal-title">
    <article>
      <header>
        <button type="button" class="close-modal" aria-label="Close" data-close-modal></button>
        <h2 id="modal-title">{title}</h2>
      </header>
      {children}
    </article>
  </dialog>
);
