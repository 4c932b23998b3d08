/**
 * The jobs table after a change made elsewhere on the dashboard: refreshed in place when the browser
 * shows it, else the browser is sent on.
 */
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { listJobsQuery, type ListJobsQuery } from "../jobs/schemas";
import * as jobs from "../jobs/service";
import { JobsTable } from "../views/jobs";
import { currentUrl, trigger } from "./ui.shared";

type Ctx = Context<AppEnv>;

/** The list view the browser is showing (from HX-Current-URL), so a change can refresh it in place. */
export function currentListQuery(c: Ctx): ListJobsQuery | null {
  const url = currentUrl(c);
  if (url?.pathname !== "/") return null;
  const parsed = listJobsQuery.safeParse(Object.fromEntries(url.searchParams));
  return parsed.success ? parsed.data : null;
}

export async function renderTable(c: Ctx, query: ListJobsQuery) {
  const { items, pagination } = await jobs.listJobs(c.env, query);
  return c.html(<JobsTable jobs={items} info={pagination} query={query} now={new Date()} />);
}

/**
 * After a change made from a dialog: close it, toast, and refresh the jobs table in place; when the
 * browser is on another page, send it to `elsewhere` instead.
 */
export async function afterChange(c: Ctx, toast: string, elsewhere: string) {
  trigger(c, { closeModal: true, toast });
  const query = currentListQuery(c);
  if (!query) {
    c.header("HX-Location", elsewhere);
    return c.body(null, 204);
  }
  c.header("HX-Retarget", "#jobs-table");
  c.header("HX-Reswap", "innerHTML");
  return renderTable(c, query);
}
