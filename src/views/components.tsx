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

/** Where a page link goes: the page's number (shown in the URL) and the cursor that reads it by key. */
export interface PageLink {
  page: number;
  cursor?: string;
}

/** "3 of 12", or "3 of at least 12" when the list stopped counting. */
export const pageOfPages = (info: PageInfo) => `${info.page} of ${info.totalExact ? info.totalPages : `at least ${info.totalPages}`}`;

/**
 * First / Previous / "Page 3 of at least 12" / Next: links that work as plain links; with htmx they swap
 * `target` and push the URL. Previous and Next carry the cursors of the answer, so a page at any depth
 * costs what the first one does; First is page 1 by number.
 */
export function Pagination({ info, hrefFor, target, swap = "innerHTML" }: { info: PageInfo; hrefFor: (to: PageLink) => string; target: string; swap?: string }) {
  if (info.page === 1 && info.nextCursor === null) return null;
  const link = (to: PageLink, label: Child, rel?: string) => (
    <a href={hrefFor(to)} hx-get={hrefFor(to)} hx-target={target} hx-swap={swap} hx-push-url="true" rel={rel}>
      {label}
    </a>
  );
  // Page 1 by number (the newest rows, whatever came since); past the end of the list (a page number too
  // far) there is no row to hold a cursor: back by number too.
  const previous = info.prevCursor && info.page > 2 ? { page: info.page - 1, cursor: info.prevCursor } : { page: info.page - 1 };
  return (
    <nav class="pagination" aria-label="Pagination">
      {info.page > 2 ? link({ page: 1 }, "« First", "first") : null}
      {info.page > 1 ? link(previous, "‹ Previous", "prev") : <span class="muted">‹ Previous</span>}
      <span class="page-of">Page {pageOfPages(info)}</span>
      {info.nextCursor ? link({ page: info.page + 1, cursor: info.nextCursor }, "Next ›", "next") : <span class="muted">Next ›</span>}
    </nav>
  );
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
