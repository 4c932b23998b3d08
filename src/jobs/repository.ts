/**
 * Drizzle reads of jobs: one job with its latest run and that run's delivery (runs/views.ts), lists and
 * search in creation order, exports, and what pause and resume read. Every write to `jobs` is in state.ts.
 */
import { type SQL, and, eq, getTableColumns, inArray, or, sql } from "drizzle-orm";
import { aliasedColumns, joined } from "../db/aliased";
import type { Db } from "../db/client";
import { jsonValues } from "../db/json-rows";
import { countMatches, keyedOnly, type KeysetList, pageKeys, pageKeysOnly, windowEnd } from "../db/keyset";
import { deliveries, type Delivery, type Job, jobs, type JobStatus, type Priority, type Run, runs } from "../db/schema";
import type { CountFrom, Keyed, Start } from "../lib/pagination";
import { type JobView, jobView } from "../runs/views";
import { DELETED, notDeleted, shownLatestRunId, shownStatus, statusIs } from "./state";

export interface JobFilter {
  search?: string;
  status?: JobStatus;
  priority?: Priority;
}

/** `%` and `_` in user text match themselves, not any character. */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);

/** The trigram index needs 3 characters; shorter terms are matched by a scan. */
export const INDEXED_SEARCH_MIN_CHARS = 3;

/** The FTS5 query for `term`: one quoted phrase, so nothing in the term is syntax. */
const ftsPhrase = (term: string) => `"${term.replaceAll('"', '""')}"`;

const isIndexed = (term: string) => [...term].length >= INDEXED_SEARCH_MIN_CHARS;

/**
 * Search is a case-insensitive substring match in the task name or the payload's JSON text, with `%`,
 * `_` and quotes as plain characters. Terms of 3+ characters are found through the FTS5 trigram index
 * (`jobs_fts`, see jobsList); shorter ones by this scan, which defines the same match.
 */
export function scanCondition(term: string): SQL {
  const pattern = `%${escapeLike(term)}%`;
  return or(sql`${jobs.taskName} LIKE ${pattern} ESCAPE '\\'`, sql`${jobs.payload} LIKE ${pattern} ESCAPE '\\'`)!;
}

/**
 * The status and priority filters (a search is matched by listJobs, from its index). With both, the
 * status index is walked and each row's priority checked (the unary + keeps the planner off the
 * priority index): a status can be rare (IN_PROGRESS), while jobs are usually spread over the three
 * priorities, so the walk reads about three entries per match at worst.
 */
function whereOf({ status, priority }: Omit<JobFilter, "search">): SQL | undefined {
  const byPriority = priority === undefined ? undefined : status === undefined ? eq(jobs.priority, priority) : sql`+${jobs.priority} = ${priority}`;
  return and(status ? statusIs(status) : undefined, byPriority);
}

/**
 * What hides deleted jobs from a read of rows (a status filter already does; the search index holds
 * nothing of them).
 */
const shownOnly = ({ status }: Omit<JobFilter, "search">): SQL | undefined => (status ? undefined : notDeleted);

/**
 * Lists are in creation order: the order rows were inserted (rowid), which is also createdAt order
 * (see insertJob). The search index and the status and priority indexes keep their entries in rowid
 * order, so no list sorts.
 */
const direction = { newest: sql.raw("desc"), oldest: sql.raw("asc") };
export type JobSort = keyof typeof direction;

/** A job's columns as it shows them: its status and latest run say a run in progress (see shownStatus). */
const shownColumns = () => ({ ...getTableColumns(jobs), status: shownStatus, latestRunId: shownLatestRunId });

/** Jobs with their latest run and its delivery (left joins by primary key). */
const withLatestRun = <E extends Record<string, SQL.Aliased | SQL>>(db: Db, extra: E = {} as E) =>
  db
    .select({ ...extra, job: shownColumns(), run: aliasedColumns(runs, "r"), delivery: aliasedColumns(deliveries, "d") })
    .from(jobs)
    .leftJoin(runs, eq(runs.id, shownLatestRunId))
    .leftJoin(deliveries, eq(deliveries.runId, runs.id));

type Row = Pick<NonNullable<Awaited<ReturnType<ReturnType<typeof withLatestRun>["get"]>>>, "job" | "run" | "delivery">;
const toView = ({ job, run, delivery }: Row) => jobView(job, joined<Run>(run, "id"), joined<Delivery>(delivery, "runId"));

/** One job with its latest run and delivery: a statement for a db.batch(); `jobViewOf` reads its answer. */
export const jobQuery = (db: Db, id: string) => withLatestRun(db).where(and(eq(jobs.id, id), notDeleted));
export const jobViewOf = (rows: Row[]): JobView | undefined => (rows[0] ? toView(rows[0]) : undefined);

export async function findJob(db: Db, id: string): Promise<JobView | undefined> {
  return jobViewOf(await jobQuery(db, id));
}

/** These runs as they are now. */
export async function findRuns(db: Db, ids: number[]): Promise<Run[]> {
  if (ids.length === 0) return [];
  return db.select().from(runs).where(inArray(runs.id, ids));
}

/** Which of these ids exist. */
export async function findExisting(db: Db, ids: string[]): Promise<string[]> {
  const rows = await db.select({ id: jobs.id }).from(jobs).where(and(inArray(jobs.id, ids), notDeleted));
  return rows.map((r) => r.id);
}

/**
 * A list of jobs as a keyset list (db/keyset.ts), in creation order, keyed by rowid. A search walks the
 * search index's matches (its rowid is the job's) and checks each one's row against the filters (CROSS
 * JOIN keeps the index first); a term too short for the index is a check on each row walked. Otherwise
 * the status index is walked for a status (its priority, if asked, checked on each row), the priority
 * index for a priority, or the table (a page by number of the whole list skips through the table).
 */
function jobsList({ search, ...filters }: JobFilter, sort: JobSort): KeysetList {
  const order = sort === "newest" ? "desc" : "asc";
  if (search !== undefined && isIndexed(search)) {
    const phrase = ftsPhrase(search);
    const check = whereOf(filters);
    const matches = check ? sql`jobs_fts CROSS JOIN ${jobs} ON ${jobs}.rowid = jobs_fts.rowid WHERE jobs_fts MATCH ${phrase}` : sql`jobs_fts WHERE jobs_fts MATCH ${phrase}`;
    return { key: sql`jobs_fts.rowid`, matches, order, check };
  }
  const { status, priority } = filters;
  const walked = status ? statusIs(status) : priority ? eq(jobs.priority, priority) : undefined;
  const check = and(status && priority ? eq(jobs.priority, priority) : undefined, search === undefined ? undefined : scanCondition(search));
  const all = !walked && !check;
  return {
    key: sql`${jobs}.rowid`,
    // Deleted jobs (awaiting their purge) are walked past: a status filter never matches them.
    matches: sql`${jobs} WHERE ${walked ?? sql`1`} AND ${shownOnly(filters) ?? sql`1`}`,
    order,
    check,
    whole: all ? { table: jobs, less: sql`(SELECT count(*) FROM ${jobs} WHERE ${statusIs(DELETED)})` } : undefined,
  };
}

/**
 * One page of jobs (each with its latest run, keyed by rowid) and the bounded count of the matches, in
 * one D1 round trip. The page's rowids come first, from an index alone, then only those rows are read.
 */
export async function listJobs(db: Db, filter: JobFilter, sort: JobSort, limit: number, start: Start, count: CountFrom, countLimit: number | null) {
  const list = jobsList(filter, sort);
  const [rows, [counted]] = await db.batch([jobsWhere(db, sql`${jobs}.rowid IN (${pageKeys(list, start, limit, { exact: countLimit === null })})`, sort), countMatches(db, list, count, countLimit)]);
  return {
    rows: rows.map((row): Keyed<JobView> => ({ key: row.rowid, item: toView(row) })),
    counted: counted?.n ?? 0,
    ...windowEnd(list, start, counted, countLimit),
  };
}

/** The jobs (with their latest runs) a condition on their rows picks, in the list's order, each keyed by rowid. */
const jobsWhere = (db: Db, where: SQL, sort: JobSort) =>
  withLatestRun(db, { rowid: sql<number>`${jobs}.rowid` })
    .where(where)
    .orderBy(sql`${jobs}.rowid ${direction[sort]}`);

/** The keys alone of a page (what a shard answers for a deep page by number, db/merge.ts), and the count. */
export async function listJobKeys(db: Db, filter: JobFilter, sort: JobSort, limit: number, start: Start, count: CountFrom, countLimit: number | null) {
  const list = jobsList(filter, sort);
  const [keys, [counted]] = await db.batch([pageKeysOnly(db, list, start, limit, countLimit), countMatches(db, list, count, countLimit)]);
  return { rows: keyedOnly(keys), counted: counted?.n ?? 0, ...windowEnd(list, start, counted, countLimit) };
}

/** The jobs with these rowids, keyed, in the list's order. */
export async function jobsByKeys(db: Db, keys: number[], sort: JobSort): Promise<Keyed<JobView>[]> {
  if (keys.length === 0) return [];
  const rows = await jobsWhere(db, sql`${jobs}.rowid IN (${sql.raw(keys.map((k) => String(Math.trunc(k))).join(","))})`, sort);
  return rows.map((row) => ({ key: row.rowid, item: toView(row) }));
}

/**
 * Deleted jobs whose rows the purge still has to remove (jobs_status_idx), the one it looked at least
 * recently first: one that waits for a webhook still owed goes to the back (see purgeLater).
 */
export const findDeletedJobs = (db: Db, limit: number) =>
  db.select({ id: jobs.id }).from(jobs).where(statusIs(DELETED)).orderBy(jobs.updatedAt).limit(limit);

/** The schedules of these jobs (those not deleted), for pause and resume. */
export function findSchedules(db: Db, ids: string[]) {
  return db
    .select({ id: jobs.id, schedule: jobs.schedule, paused: jobs.paused, occurrences: jobs.occurrences })
    .from(jobs)
    .where(and(inArray(jobs.id, jsonValues(ids)), notDeleted));
}

/**
 * A job as an export reads it: its rowid (the export's cursor), the job, and of its latest run only
 * what the export writes (not the run's and the delivery's copies of the payload: three copies of a
 * 64 KiB payload per job would make a page of 500 too large).
 */
export interface ExportRow {
  rowid: number;
  job: Job;
  lastRun: { number: number; startedAt: Date | null; completedAt: Date | null; failureReason: string | null; webhookState: Delivery["state"] | null } | null;
}

/**
 * One page of an export: up to `limit` jobs past the rowid `after` (null: from the first), in the
 * list's order and with the list's filters (see jobsList). Keyset, not OFFSET: each
 * page starts where the last one stopped, so page 200 costs what page 1 costs.
 */
export async function exportPage(db: Db, { search, ...filters }: JobFilter, sort: JobSort, after: number | null, limit: number): Promise<ExportRow[]> {
  const dir = direction[sort];
  const rowFilter = whereOf(filters);
  const phrase = search !== undefined && isIndexed(search) ? ftsPhrase(search) : undefined;
  // The cursor is compared on the index the page is read from: the search index's rowid, or the table's.
  const rowid = phrase ? sql`jobs_fts.rowid` : sql`${jobs}.rowid`;
  const past = after === null ? sql`1` : sort === "newest" ? sql`${rowid} < ${after}` : sql`${rowid} > ${after}`;
  const matches = phrase
    ? rowFilter
      ? sql`jobs_fts CROSS JOIN ${jobs} ON ${jobs}.rowid = jobs_fts.rowid WHERE jobs_fts MATCH ${phrase} AND ${rowFilter}`
      : sql`jobs_fts WHERE jobs_fts MATCH ${phrase}`
    : sql`${jobs} WHERE ${and(search !== undefined ? scanCondition(search) : undefined, rowFilter, shownOnly(filters)) ?? sql`1`}`;
  const pageRowids = sql`
    SELECT ${rowid}
    FROM ${matches}
      AND ${past}
    ORDER BY ${rowid} ${dir}
    LIMIT ${limit}`;
  const rows = await db
    .select({
      rowid: sql<number>`${jobs}.rowid`,
      job: shownColumns(),
      number: runs.number,
      startedAt: runs.startedAt,
      completedAt: runs.completedAt,
      failureReason: runs.failureReason,
      webhookState: deliveries.state,
    })
    .from(jobs)
    .leftJoin(runs, eq(runs.id, shownLatestRunId))
    .leftJoin(deliveries, eq(deliveries.runId, runs.id))
    .where(sql`${jobs}.rowid IN (${pageRowids})`)
    .orderBy(sql`${jobs}.rowid ${dir}`);
  return rows.map(({ rowid: id, job, number, webhookState, ...run }) => ({ rowid: id, job, lastRun: number === null ? null : { number, ...run, webhookState } }));
}
