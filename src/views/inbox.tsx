/** What the built-in webhook inbox received. */
import type { InboxEntry } from "../db/schema";
import { EmptyState, Pagination, Time, type PageInfo } from "./components";
import { prettyJson } from "./format";

export function InboxPage({ entries, info, now }: { entries: InboxEntry[]; info: PageInfo; now: Date }) {
  return (
    <>
      <div class="page-head">
        <h1>Webhook inbox</h1>
        {info.total > 0 ? (
          <form method="post" action="/inbox/clear" hx-post="/inbox/clear" hx-target="#inbox-list" hx-swap="innerHTML">
            <button type="submit" class="secondary outline">
              Clear inbox
            </button>
          </form>
        ) : null}
      </div>
      <p class="muted">
        The app's own webhook receiver at <code>/webhooks/inbox</code>. Locally, <code>WEBHOOK_URL</code> points here, so every completed job lands
        below.
      </p>
      {/* New deliveries appear by themselves while the first page is shown. */}
      <div id="inbox-list" {...(info.page === 1 ? { "hx-get": "/inbox", "hx-trigger": "every 3s", "hx-swap": "innerHTML" } : {})}>
        <InboxList entries={entries} info={info} now={now} />
      </div>
    </>
  );
}

export function InboxList({ entries, info, now }: { entries: InboxEntry[]; info: PageInfo; now: Date }) {
  if (info.total === 0) {
    return (
      <EmptyState title="Nothing received yet.">
        <p>
          Run a job on the <a href="/">jobs page</a>; its webhook arrives here a few seconds later.
        </p>
      </EmptyState>
    );
  }
  return (
    <>
      <ol class="inbox" reversed>
        {entries.map((entry) => {
          const body = entry.body as Record<string, unknown> | null;
          return (
            <li data-entry-id={entry.id}>
              <details>
                <summary>
                  <Time at={entry.receivedAt} now={now} /> <code>{entry.headers["webhook-id"] ?? "(no webhook-id)"}</code>{" "}
                  {typeof body?.event === "string" ? <span class="badge">{body.event}</span> : null}{" "}
                  {typeof body?.taskName === "string" ? <span>{body.taskName}</span> : null}
                </summary>
                <h4>Headers</h4>
                <pre class="mono">{prettyJson(entry.headers)}</pre>
                <h4>Body</h4>
                <pre class="mono">{prettyJson(entry.body)}</pre>
              </details>
            </li>
          );
        })}
      </ol>
      <Pagination info={info} hrefFor={(page) => (page === 1 ? "/inbox" : `/inbox?page=${page}`)} target="#inbox-list" />
    </>
  );
}
