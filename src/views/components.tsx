/** Small pure components: badges, times, copyable ids, pagination, empty states, flash messages. */
import type { Child } from "hono/jsx";
import type { DeliveryState, JobStatus, Priority } from "../db/schema";
import type { DeliveryView } from "../runs/views";
import type { PageInfo } from "../lib/pagination";
import { exactTime, relativeTime } from "./format";

const statusLabel: Record<JobStatus, string> = {
  PENDING: "Pending",
  SCHEDULED: "Scheduled",
  IN_PROGRESS: "In progress",
  COMPLETED: "Completed",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
};

export const StatusBadge = ({ status }: { status: JobStatus }) => (
  <span class={`badge status-${status.toLowerCase()}`} data-status={status}>
    {statusLabel[status]}
  </span>
);

export const PriorityBadge = ({ priority }: { priority: Priority }) => (
  <span class={`badge priority-${priority.toLowerCase()}`}>{priority.charAt(0) + priority.slice(1).toLowerCase()}</span>
);

const deliveryLabel: Record<DeliveryState, string> = {
  PENDING: "Webhook pending",
  SENDING: "Sending webhook",
  RETRYING: "Webhook retrying",
  DELIVERED: "Webhook delivered",
  FAILED: "Webhook failed",
};

/** A run's webhook: its state, and how many attempts the current series took when more than one. */
export const DeliveryBadge = ({ delivery }: { delivery: Pick<DeliveryView, "state" | "attempts"> | null | undefined }) => {
  if (!delivery) return null;
  return (
    <span class={`badge delivery-${delivery.state.toLowerCase()}`} data-delivery={delivery.state}>
      {deliveryLabel[delivery.state]}
      {delivery.attempts > 1 ? ` (${delivery.attempts} attempts)` : ""}
    </span>
  );
};

/** Attributes of a live part: app.js re-requests `url` every `everyMs` and morphs in only what changed (see app.js). */
export const poll = (url: string, everyMs: number, announce?: string) => ({
  "data-poll": url,
  "data-poll-every": String(everyMs),
  ...(announce ? { "data-announce": announce } : {}),
});

export const Time = ({ at, now }: { at: Date | null; now: Date }) =>
  at ? (
    <time datetime={at.toISOString()} title={exactTime(at)}>
      {relativeTime(at, now)}
    </time>
  ) : (
    <span class="muted">—</span>
  );

/** A monospace id with a copy button (the button works once app.js is loaded). */
export const CopyId = ({ id, label = "id" }: { id: string; label?: string }) => (
  <span class="copy-id">
    <code>{id}</code>
    <button type="button" class="copy outline secondary" data-copy={id} aria-label={`Copy ${label} ${id}`}>
      Copy
    </button>
  </span>
);

export type { PageInfo };

/** Page links that work as plain links; with htmx they swap `target` and push the URL. */
export function Pagination({ info, hrefFor, target, swap = "innerHTML" }: { info: PageInfo; hrefFor: (page: number) => string; target: string; swap?: string }) {
  if (info.totalPages <= 1) return null;
  const pages = pageWindow(info.page, info.totalPages);
  const link = (page: number, label: Child, rel?: string, current = false) => (
    <a
      href={hrefFor(page)}
      hx-get={hrefFor(page)}
      hx-target={target}
      hx-swap={swap}
      hx-push-url="true"
      rel={rel}
      aria-current={current ? "page" : undefined}
      aria-label={typeof label === "string" ? undefined : `Page ${page}`}
    >
      {label}
    </a>
  );
  // A total that is a lower bound (a search that stopped counting) has pages past its last number.
  const more = !info.totalExact;
  return (
    <nav class="pagination" aria-label="Pagination">
      {info.page > 1 ? link(info.page - 1, "‹ Previous", "prev") : <span class="muted">‹ Previous</span>}
      {pages.map((p) => (p === null ? <span class="gap">…</span> : link(p, String(p), undefined, p === info.page)))}
      {more && <span class="gap">…</span>}
      {info.page < info.totalPages || more ? link(info.page + 1, "Next ›", "next") : <span class="muted">Next ›</span>}
    </nav>
  );
}

/** 1 … 4 5 [6] 7 8 … 20 */
function pageWindow(current: number, last: number): (number | null)[] {
  const wanted = new Set([1, last, current - 2, current - 1, current, current + 1, current + 2].filter((p) => p >= 1 && p <= last));
  const sorted = [...wanted].sort((a, b) => a - b);
  const out: (number | null)[] = [];
  sorted.forEach((p, i) => {
    if (i > 0 && p - sorted[i - 1]! > 1) out.push(null);
    out.push(p);
  });
  return out;
}

export const EmptyState = ({ title, children }: { title: string; children?: Child }) => (
  <div class="empty-state">
    <p>
      <strong>{title}</strong>
    </p>
    {children}
  </div>
);

export const Spinner = ({ id }: { id: string }) => (
  <span id={id} class="htmx-indicator spinner" role="status" aria-label="Loading" />
);

/**
 * Attributes for a filter control that refreshes a table in place: GET `url` with the whole filter
 * form, swap the table, push the URL (so the view can be bookmarked), show the spinner.
 */
export const liveFilter = (url: string, table: string, form: string, spinner: string) => ({
  "hx-get": url,
  "hx-target": table,
  "hx-swap": "innerHTML",
  "hx-push-url": "true",
  "hx-include": form,
  "hx-indicator": spinner,
});
