/** Above the jobs table: the filter form (each control refreshes the table in place) and the bulk actions. */
import { JOB_STATUSES, PRIORITIES } from "../db/schema";
import type { ListJobsQuery } from "../jobs/schemas";
import { liveFilter } from "./components";

export const PAGE_SIZES = [10, 20, 50, 100] as const;

const labels = { status: "Status", priority: "Priority" } as const;

export function JobFilters({ query }: { query: ListJobsQuery }) {
  // Each control refreshes the table (and the URL) on its own; the form still works without JavaScript.
  const live = liveFilter("/", "#jobs-table", "#job-filters", "#table-loading");
  const select = (name: "status" | "priority", values: readonly string[]) => (
    <label>
      {labels[name]}
      <select name={name} {...live} hx-trigger="change">
        <option value="">All</option>
        {values.map((v) => (
          <option value={v} selected={query[name] === v}>
            {v.replace("_", " ").toLowerCase()}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <form id="job-filters" class="filters" method="get" action="/" role="search" {...live} hx-trigger="submit">
      <label class="grow">
        Search
        <input
          type="search"
          name="search"
          value={query.search ?? ""}
          placeholder="Task name or payload text"
          autocomplete="off"
          {...live}
          hx-trigger="input changed delay:300ms, search"
        />
      </label>
      {select("status", JOB_STATUSES)}
      {select("priority", PRIORITIES)}
      <label>
        Sort
        <select name="sort" {...live} hx-trigger="change">
          <option value="newest" selected={query.sort === "newest"}>
            Newest first
          </option>
          <option value="oldest" selected={query.sort === "oldest"}>
            Oldest first
          </option>
        </select>
      </label>
      <label>
        Per page
        <select name="limit" {...live} hx-trigger="change">
          {PAGE_SIZES.map((n) => (
            <option value={String(n)} selected={query.limit === n}>
              {n}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" class="secondary apply">
        Apply
      </button>
    </form>
  );
}

/**
 * Actions on the selected rows. The buttons ask for a confirmation that says how many jobs it is (a
 * dialog with htmx; a page of its own without JavaScript); the rows' checkboxes belong to this form.
 */
export function BulkBar() {
  const actions = [
    ["run", "Run"],
    ["cancel", "Cancel"],
    ["pause", "Pause"],
    ["resume", "Resume"],
    ["delete", "Delete"],
  ] as const;
  return (
    <form id="bulk-form" class="bulk-bar" method="post" action="/jobs/bulk/confirm" hx-post="/jobs/bulk/confirm" hx-target="#modal" hx-swap="innerHTML">
      <span class="muted">Selected jobs:</span>
      {actions.map(([action, label]) => (
        <button type="submit" name="action" value={action} class={`secondary outline${action === "delete" ? " danger" : ""}`}>
          {label}
        </button>
      ))}
    </form>
  );
}
