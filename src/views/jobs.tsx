/** The jobs page: filters, the table fragment with its rows and pagination, and the row actions. */
import type { ExportFormat, ListJobsQuery } from "../jobs/schemas";
import type { DeliveryView, JobView } from "../runs/views";
import { describeSchedule } from "../schedules/describe";
import { DeliveryBadge, EmptyState, Pagination, poll, PriorityBadge, Spinner, StatusBadge, Time, type PageInfo } from "./components";
import { BulkBar, JobFilters } from "./job-filters";


/** The canonical URL of a list view: only the parameters that differ from the defaults. */
export function jobsUrl(q: Partial<ListJobsQuery>): string {
  const params = new URLSearchParams();
  if (q.search) params.set("search", q.search);
  if (q.status) params.set("status", q.status);
  if (q.priority) params.set("priority", q.priority);
  if (q.sort && q.sort !== "newest") params.set("sort", q.sort);
  if (q.limit && q.limit !== 10) params.set("limit", String(q.limit));
  if (q.page && q.page !== 1) params.set("page", String(q.page));
  // The page number stays in the URL for people; the cursor is what the page is read by.
  if (q.cursor) params.set("cursor", q.cursor);
  const query = params.toString();
  return query ? `/?${query}` : "/";
}

/** The export of a list view: its filters and order, every page of it. */
export function exportUrl(q: Partial<ListJobsQuery>, format: ExportFormat): string {
  const params = new URLSearchParams({ format });
  if (q.search) params.set("search", q.search);
  if (q.status) params.set("status", q.status);
  if (q.priority) params.set("priority", q.priority);
  if (q.sort && q.sort !== "newest") params.set("sort", q.sort);
  return `/jobs/export?${params}`;
}

/** Downloads of every job the filters match (not only this page). */
function ExportLinks({ query }: { query: ListJobsQuery }) {
  return (
    <span class="export-links">
      <a href={exportUrl(query, "csv")} download>
        Export CSV
      </a>
      <a href={exportUrl(query, "ndjson")} download>
        Export NDJSON
      </a>
    </span>
  );
}

export const deliveryActive = (delivery: DeliveryView | null | undefined) =>
  delivery?.state === "PENDING" || delivery?.state === "SENDING" || delivery?.state === "RETRYING";

/** How soon a scheduled run must be for its row to start watching it. */
const SOON_MS = 60_000;

/**
 * A job still worth watching (a run under way or due within a minute, or its webhook under way): its
 * row and page poll until it is not.
 */
export const isActive = (job: JobView, now = Date.now()) =>
  job.status === "IN_PROGRESS" || deliveryActive(job.latestRun?.delivery) || (job.nextRunAt !== null && job.nextRunAt.getTime() <= now + SOON_MS);

/** Every second while it runs or is about to; every 5 s while its webhook waits to retry or its run waits for a slot. */
export const pollEveryMs = (job: JobView, now = Date.now()) =>
  job.latestRun?.delivery?.state === "RETRYING" || (job.status === "SCHEDULED" && job.nextRunAt !== null && job.nextRunAt.getTime() < now) ? 5000 : 1000;

/** What a screen reader is told when a job stops being live: "Send Email: completed, webhook delivered". */
export function announcement(job: JobView): string {
  const delivery = job.latestRun?.delivery?.state;
  return `${job.taskName}: ${job.status.replace("_", " ").toLowerCase()}${delivery ? `, webhook ${delivery.toLowerCase()}` : ""}`;
}

export function JobsTable({ jobs, info, query, now }: { jobs: JobView[]; info: PageInfo; query: ListJobsQuery; now: Date }) {
  const filtered = Boolean(query.search || query.status || query.priority);
  if (info.total === 0 && info.nextCursor === null) {
    return filtered ? (
      <EmptyState title="No jobs match these filters.">
        <a href="/">Clear the filters</a>
      </EmptyState>
    ) : (
      <EmptyState title="No jobs yet — create one.">
        <NewJobButton />
      </EmptyState>
    );
  }
  const first = (info.page - 1) * info.limit + 1;
  const last = first + jobs.length - 1;
  // A list that stopped counting (ten pages ahead) says "100+": that many match, and more.
  const total = info.totalExact ? String(info.total) : `${info.total}+`;
  return (
    <>
      <p class="summary">
        {jobs.length > 0
          ? `Showing ${first}–${last} of ${total} jobs`
          : info.nextCursor
            ? "No match among the jobs looked through for this page: Next looks further"
            : `Page ${info.page} is past the end (${total} jobs)`}
        <ExportLinks query={query} />
      </p>
      <div class="table-wrap">
        <table class="striped jobs">
          <thead>
            <tr>
              <th scope="col" class="select">
                <span class="visually-hidden">Select</span>
              </th>
              <th scope="col">Task</th>
              <th scope="col">Priority</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => (
              <JobRow job={job} now={now} />
            ))}
          </tbody>
        </table>
      </div>
      <Pagination info={info} hrefFor={({ page, cursor }) => jobsUrl({ ...query, page, cursor })} target="#jobs-table" />
    </>
  );
}

/** "next in 3 h", the cron in words, or "paused": when the job runs next. */
export function NextRun({ job, now }: { job: JobView; now: Date }) {
  return (
    <>
      {job.nextRunAt ? (
        <small class="next-run">
          {job.nextRunAt <= now ? "due, waiting for a slot" : "next"} <Time at={job.nextRunAt} now={now} />
        </small>
      ) : null}
      {job.schedule ? (
        <small class="schedule-words muted">
          {" "}
          {job.paused ? "Paused: " : ""}
          {describeSchedule(job.schedule)}
        </small>
      ) : null}
    </>
  );
}

export function JobRow({ job, now }: { job: JobView; now: Date }) {
  const live = isActive(job, now.getTime()) ? poll(`/jobs/${job.id}/row`, pollEveryMs(job, now.getTime())) : {};
  return (
    <tr id={`job-${job.id}`} data-job-id={job.id} data-announce={announcement(job)} {...live}>
      <td class="select">
        <input type="checkbox" name="ids" value={job.id} form="bulk-form" data-keep-checked aria-label={`Select ${job.taskName}`} />
      </td>
      <td>
        <a href={`/jobs/${job.id}`} class="task-name">
          {job.taskName}
        </a>
        <br />
        <small class="mono muted">{job.id}</small>
      </td>
      <td>
        <PriorityBadge priority={job.priority} />
      </td>
      <td class="status-cell">
        <StatusBadge status={job.status} /> <DeliveryBadge delivery={job.latestRun?.delivery} />
        <br />
        <NextRun job={job} now={now} />
      </td>
      <td>
        <Time at={job.createdAt} now={now} />
      </td>
      <td>
        <Time at={job.updatedAt} now={now} />
      </td>
      <td class="actions">
        <JobActions job={job} target="row" />
      </td>
    </tr>
  );
}

/**
 * Run / Edit / Delete. In a row, Run morphs the row; on the detail page it morphs the live section.
 * Edits apply from the next run on, so a running job can be edited. While the job runs, Run is
 * aria-disabled, not disabled: a disabled button loses keyboard focus (to the page's start) the moment
 * it is pressed; app.js makes pressing it do nothing.
 */
export function JobActions({ job, target }: { job: JobView; target: "row" | "detail" }) {
  const running = job.status === "IN_PROGRESS";
  const runTarget = target === "row" ? { "hx-target": "closest tr", "hx-swap": "morph" } : { "hx-target": "#job-live", "hx-swap": "morph" };
  return (
    <div class="action-group">
      <form method="post" action={`/jobs/${job.id}/run`} hx-post={`/jobs/${job.id}/run?view=${target}`} {...runTarget}>
        <button type="submit" aria-disabled={running ? "true" : undefined} aria-label={`Run ${job.taskName}`}>
          {running ? "Running…" : "Run"}
        </button>
      </form>
      <a
        href={`/jobs/${job.id}/edit`}
        hx-get={`/jobs/${job.id}/edit`}
        hx-target="#modal"
        hx-swap="innerHTML"
        role="button"
        class="secondary outline"
        aria-label={`Edit ${job.taskName}`}
      >
        Edit
      </a>
      <a
        href={`/jobs/${job.id}/delete`}
        hx-get={`/jobs/${job.id}/delete`}
        hx-target="#modal"
        hx-swap="innerHTML"
        role="button"
        class="secondary outline danger"
        aria-label={`Delete ${job.taskName}`}
      >
        Delete
      </a>
    </div>
  );
}

export const NewJobButton = () => (
  <a href="/jobs/new" hx-get="/jobs/new" hx-target="#modal" hx-swap="innerHTML" role="button" class="primary">
    New job
  </a>
);

export function JobsPage({ jobs, info, query, now }: { jobs: JobView[]; info: PageInfo; query: ListJobsQuery; now: Date }) {
  return (
    <>
      <div class="page-head">
        <h1>Jobs</h1>
        <NewJobButton />
      </div>
      <JobFilters query={query} />
      <BulkBar />
      <Spinner id="table-loading" />
      {/* Not a live region: rows refresh every second while they run. app.js announces what matters. */}
      <div id="jobs-table">
        <JobsTable jobs={jobs} info={info} query={query} now={now} />
      </div>
    </>
  );
}
