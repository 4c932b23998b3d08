/** What the built-in webhook inbox received. */
import type { InboxEntry } from "../db/schema";
import { EmptyState, Pagination, poll, Time, type PageInfo, type PageLink } from "./components";
import { prettyJson } from "./format";

export function InboxPage({ entries, info, now }: { entries: InboxEntry[]; info: PageInfo; now: Date }) {
  return (
    <>
      <div class="page-head">
        <h1>Webhook inbox</h1>
        {info.total > 0 ? (
          <form method="post" action="/inbox/clear" hx-post="/inbox/clear" hx-target="#inbox-list" hx-swap="morph">
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
      <InboxList entries={entries} info={info} now={now} />
    </>
  );
}

export function inboxUrl({ page, cursor }: PageLink): string {
  const params = new URLSearchParams();
  if (page !== 1) params.set("page", String(page));
  if (cursor) params.set("cursor", cursor);
  const query = params.toString();
  return query ? `/inbox?${query}` : "/inbox";
}

/**
 * The entries of one page. New deliveries appear by themselves on the first page (it polls every 3 s);
 * an older page stays as it was asked for. Entries keep their ids, so an opened one stays open.
 */
export function InboxList({ entries, info, now }: { entries: InboxEntry[]; info: PageInfo; now: Date }) {
  return (
    <div id="inbox-list" {...(info.page === 1 ? poll(inboxUrl({ page: 1 }), 3000) : {})}>
      <InboxEntries entries={entries} info={info} now={now} />
    </div>
  );
}

function InboxEntries({ entries, info, now }: { entries: InboxEntry[]; info: PageInfo; now: Date }) {
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
            <li id={`inbox-${entry.id}`} data-entry-id={entry.id}>
              <details id={`inbox-${entry.id}-details`}>
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
      <Pagination info={info} hrefFor={inboxUrl} target="#inbox-list" swap="morph" />
    </>
  );
}
