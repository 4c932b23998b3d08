/** Delivery attempts, as a list of expandable entries (job detail) and as the all-logs page. */
import type { ListedLog, LogView } from "../webhooks/repository";
import { EmptyState, liveFilter, Pagination, Spinner, Time, type PageInfo } from "./components";
import { formatMs, prettyJson } from "./format";

const ok = (log: LogView) => log.responseStatus !== null && log.responseStatus >= 200 && log.responseStatus < 300;

/** "200 OK", "500 after 34 ms", or the error in plain words when there was no response. */
export const AttemptOutcome = ({ log }: { log: LogView }) =>
  log.responseStatus === null ? (
    <span class="badge delivery-failed">No response</span>
  ) : (
    <span class={`badge ${ok(log) ? "delivery-delivered" : "delivery-failed"}`}>HTTP {log.responseStatus}</span>
  );

/** Attempts newest first; each opens to its request and response (ids keep it open across refreshes). */
export function AttemptList({ logs, now }: { logs: LogView[]; now: Date }) {
  if (logs.length === 0) return <p class="muted">No delivery attempts yet.</p>;
  return (
    <ol class="attempts" reversed>
      {logs.map((log) => (
        <li id={`attempt-${log.id}`} class={ok(log) ? "attempt ok" : "attempt failed"} data-attempt={log.attempt}>
          <details id={`attempt-${log.id}-details`}>
            <summary>
              <span>
                {log.series > 1 ? `Redelivery ${log.series - 1}, attempt ${log.attempt}` : `Attempt ${log.attempt}`}
              </span> <AttemptOutcome log={log} /> <span class="muted">{formatMs(log.durationMs)}</span>{" "}
              <Time at={log.sentAt} now={now} />
              {log.error ? <span class="attempt-error"> — {log.error}</span> : null}
              {log.nextRetryAt ? (
                <span class="muted">
                  {" "}
                  · next try <Time at={log.nextRetryAt} now={now} />
                </span>
              ) : null}
            </summary>
            <p class="muted">
              POST <code>{log.url || "(no URL)"}</code> · delivery <code>{log.deliveryId}</code>
            </p>
            <div class="bodies">
              <div>
                <h4>Request body</h4>
                <pre class="mono">{prettyJson(log.requestBody)}</pre>
              </div>
              <div>
                <h4>Response body</h4>
                <pre class="mono">{log.responseBody === null ? "(empty)" : prettyJson(log.responseBody)}</pre>
              </div>
            </div>
          </details>
        </li>
      ))}
    </ol>
  );
}

export interface LogsQuery {
  limit: number;
  page: number;
  cursor?: string;
  jobId?: string;
  outcome?: "success" | "failure";
}

export function logsUrl(q: LogsQuery): string {
  const params = new URLSearchParams();
  if (q.jobId) params.set("jobId", q.jobId);
  if (q.outcome) params.set("outcome", q.outcome);
  if (q.limit !== 20) params.set("limit", String(q.limit));
  if (q.page !== 1) params.set("page", String(q.page));
  if (q.cursor) params.set("cursor", q.cursor);
  const query = params.toString();
  return query ? `/logs?${query}` : "/logs";
}

export function LogsTable({ logs, info, query, now }: { logs: ListedLog[]; info: PageInfo; query: LogsQuery; now: Date }) {
  if (info.total === 0 && info.nextCursor === null) {
    return query.jobId || query.outcome ? (
      <EmptyState title="No deliveries match these filters.">
        <a href="/logs">Clear the filters</a>
      </EmptyState>
    ) : (
      <EmptyState title="No webhooks sent yet.">
        <p>
          Run a job from the <a href="/">jobs page</a>: when it completes, its webhook attempt shows up here.
        </p>
      </EmptyState>
    );
  }
  return (
    <>
      <div class="table-wrap">
        <table class="striped logs">
          <thead>
            <tr>
              <th scope="col">Sent</th>
              <th scope="col">Job</th>
              <th scope="col">Run · attempt</th>
              <th scope="col">Result</th>
              <th scope="col">Duration</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {logs.map((log) => (
              <tr data-log-id={log.id}>
                <td>
                  <Time at={log.sentAt} now={now} />
                </td>
                <td>
                  {log.jobDeleted ? (
                    <em class="muted">deleted job</em>
                  ) : (
                    <a href={`/jobs/${log.jobId}`} class="task-name">
                      {log.taskName}
                    </a>
                  )}
                  <br />
                  <small class="mono muted">{log.jobId}</small>
                </td>
                <td>
                  {log.runNumber === null ? "" : `Run ${log.runNumber} · `}
                  {log.series > 1 ? `redelivery ${log.series - 1}, attempt ${log.attempt}` : `attempt ${log.attempt}`}
                </td>
                <td>
                  <AttemptOutcome log={log} />
                  {log.error ? <div class="attempt-error">{log.error}</div> : null}
                </td>
                <td>{formatMs(log.durationMs)}</td>
                <td>
                  <details>
                    <summary>Bodies</summary>
                    <h4>Request</h4>
                    <pre class="mono">{prettyJson(log.requestBody)}</pre>
                    <h4>Response</h4>
                    <pre class="mono">{log.responseBody === null ? "(empty)" : prettyJson(log.responseBody)}</pre>
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pagination info={info} hrefFor={({ page, cursor }) => logsUrl({ ...query, page, cursor })} target="#logs-table" />
    </>
  );
}

export function LogsPage(props: { logs: ListedLog[]; info: PageInfo; query: LogsQuery; now: Date }) {
  const live = liveFilter("/logs", "#logs-table", "#log-filters", "#logs-loading");
  return (
    <>
      <div class="page-head">
        <h1>Webhook logs</h1>
      </div>
      <form id="log-filters" class="filters" method="get" action="/logs" role="search" {...live} hx-trigger="submit">
        <label class="grow">
          Job id
          <input name="jobId" value={props.query.jobId ?? ""} placeholder="Any job" autocomplete="off" {...live} hx-trigger="input changed delay:300ms" />
        </label>
        <label>
          Outcome
          <select name="outcome" {...live} hx-trigger="change">
            <option value="">All</option>
            <option value="success" selected={props.query.outcome === "success"}>
              Succeeded
            </option>
            <option value="failure" selected={props.query.outcome === "failure"}>
              Failed
            </option>
          </select>
        </label>
        <input type="hidden" name="limit" value={String(props.query.limit)} />
        <button type="submit" class="secondary apply">
          Apply
        </button>
      </form>
      <Spinner id="logs-loading" />
      <div id="logs-table">
        <LogsTable {...props} />
      </div>
    </>
  );
}
