/**
 * Drizzle queries for jobs: create, read, list and search, edit, delete. A job is read with its latest
 * run and that run's delivery (runs/views.ts). Runs are started and finished in runs/transitions.ts.
 */
import { and, count, eq, getTableColumns, inArray, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { aliasedColumns, joined } from "../db/aliased";
import { jsonValues } from "../db/json-rows";
import { deliveries, idempotencyKeys, jobs, runs, webhookLogs, type Delivery, type Job, type JobStatus, type Priority, type Run, type Schedule } from "../db/schema";
import { jobView, type JobView } from "../runs/views";

export interface JobFilter {
  search?: string;
  status?: JobStatus;
  priority?: Priority;
}

export interface NewJob {
  id: string;
  taskName: string;
  payload: Record<string, unknown>;
  priority: Priority;
  webhookUrl: string | null;
  notifyOnCancel: boolean;
  schedule: Schedule | null;
  /** The first occurrence of the schedule, made a run with the job. */
  scheduleCursor: Date | null;
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
 * (`jobs_fts`, see listSearched); shorter ones by this scan, which defines the same match.
 */
export function scanCondition(term: string): SQL {
  const pattern = `%${escapeLike(term)}%`;
  return or(sql`${jobs.taskName} LIKE ${pattern} ESCAPE '\\'`, sql`${jobs.payload} LIKE ${pattern} ESCAPE '\\'`)!;
}

/** The status and priority filters (a search is matched by listJobs, from its index). */
function whereOf({ status, priority }: Omit<JobFilter, "search">): SQL | undefined {
  return and(status ? eq(jobs.status, status) : undefined, priority ? eq(jobs.priority, priority) : undefined);
}

/**
 * What hides deleted jobs from a read of rows (a status filter already does; the search index holds
 * nothing of them).
 */
const shownOnly = ({ status }: Omit<JobFilter, "search">): SQL | undefined => (status ? undefined : notDeleted);

/**
 * Lists are in creation order: the order rows were inserted (rowid), which is also createdAt order
 * (see insertJob). The search index and the status and priority indexes keep their entries in rowid
 * order, and the createdAt index in createdAt order, so no list sorts.
 */
const direction = { newest: sql.raw("desc"), oldest: sql.raw("asc") };
export type JobSort = keyof typeof direction;

/**
 * How far a search counts its matches: through this many pages of the requested size, starting at the
 * requested page (100 matches for page 1 at the default limit of 10). Past that the total is a lower
 * bound (`totalExact: false`). Counting is a walk over the matches, so an exact count would cost as
 * much as reading every one of them; this way a search costs about what its pages cost, however many
 * jobs match. Lists without a search count exactly (an index count).
 */
export const SEARCH_COUNT_PAGES = 10;

export interface JobList {
  rows: JobView[];
  total: number;
  /** False when a search stopped counting: `total` matches exist, and more. */
  totalExact: boolean;
}

/**
 * createdAt never decreases from one job to the next: it is `now`, or the newest job's createdAt when
 * that is later (another Worker's clock ahead by a few ms). So creation time and insertion order agree,
 * and a list may read its page from whichever index is ordered that way (see listJobs).
 */
const createdAtOf = (now: Date) => sql`max(${now.getTime()}, coalesce((select max(${jobs.createdAt}) from ${jobs}), 0))`;

/**
 * Inserts the job. With an idempotency key, only if no live record of that key exists (checked in the
 * same statement, so two creates with one key at once make one job).
 */
export function insertJob(db: Db, job: NewJob, now: Date, { unlessKey }: { unlessKey?: { key: string; since: Date } } = {}) {
  const createdAt = createdAtOf(now);
  const guard = unlessKey
    ? sql`NOT EXISTS (SELECT 1 FROM ${idempotencyKeys} WHERE ${idempotencyKeys.key} = ${unlessKey.key} AND ${idempotencyKeys.createdAt} > ${unlessKey.since.getTime()})`
    : sql`1`;
  return db
    .insert(jobs)
    .select(
      // Every column of `jobs`, in table order.
      sql`SELECT
        ${job.id},
        ${job.taskName},
        ${JSON.stringify(job.payload)},
        ${job.priority},
        'PENDING',
        ${createdAt},
        ${createdAt},
        NULL,
        NULL,
        ${job.webhookUrl},
        ${job.notifyOnCancel ? 1 : 0},
        ${job.schedule ? JSON.stringify(job.schedule) : null},
        0,
        ${job.scheduleCursor?.getTime() ?? null},
        ${job.scheduleCursor ? 1 : 0}
      WHERE ${guard}`,
    )
    .returning();
}

/** Jobs with their latest run and its delivery (left joins by primary key). */
const withLatestRun = (db: Db) =>
  db
    .select({ job: getTableColumns(jobs), run: aliasedColumns(runs, "r"), delivery: aliasedColumns(deliveries, "d") })
    .from(jobs)
    .leftJoin(runs, eq(runs.id, jobs.latestRunId))
    .leftJoin(deliveries, eq(deliveries.runId, jobs.latestRunId));

type Row = NonNullable<Awaited<ReturnType<ReturnType<typeof withLatestRun>["get"]>>>;
const toView = ({ job, run, delivery }: Row) => jobView(job, joined<Run>(run, "id"), joined<Delivery>(delivery, "runId"));

/** One job with its latest run and delivery: a statement for a db.batch(); `jobViewOf` reads its answer. */
export const jobQuery = (db: Db, id: string) => withLatestRun(db).where(and(eq(jobs.id, id), notDeleted));
export const jobViewOf = (rows: Row[]): JobView | undefined => (rows[0] ? toView(rows[0]) : undefined);

export async function findJob(db: Db, id: string): Promise<JobView | undefined> {
  return jobViewOf(await jobQuery(db, id));
}

/**
 * Records an Idempotency-Key for the job just created (only if it was: the job must exist), or renews
 * a record older than `since` (an expired key may be used again).
 */
export function rememberKey(db: Db, record: { key: string; requestHash: string; jobId: string }, now: Date, since: Date) {
  return db
    .insert(idempotencyKeys)
    .select(sql`SELECT ${record.key}, ${record.requestHash}, ${record.jobId}, ${now.getTime()} WHERE EXISTS (SELECT 1 FROM ${jobs} WHERE ${jobs.id} = ${record.jobId})`)
    .onConflictDoUpdate({
      target: idempotencyKeys.key,
      set: { requestHash: record.requestHash, jobId: record.jobId, createdAt: now },
      setWhere: sql`${idempotencyKeys.createdAt} <= ${since.getTime()}`,
    });
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
 * One page and the total, in one D1 round trip. The page's rowids come first, from an index alone
 * (skipping `offset` entries without reading their rows), then only those rows are read.
 */
export async function listJobs(
  db: Db,
  { search, ...filters }: JobFilter,
  sort: JobSort,
  limit: number,
  offset: number,
  /** Count every match of a search (the original API's clients loop over `totalPages`). */
  exactCount = false,
): Promise<JobList> {
  const dir = direction[sort];
  const where = whereOf(filters);
  if (search !== undefined) return listSearched(db, search, where, shownOnly(filters), dir, limit, offset, exactCount ? null : offset + SEARCH_COUNT_PAGES * limit);
  // Unfiltered, the createdAt index is the compact one in creation order; the table itself is not.
  const order = where ? sql`${jobs}.rowid ${dir}` : sql`${jobs.createdAt} ${dir}, ${jobs}.rowid ${dir}`;
  const shown = and(where, shownOnly(filters));
  const [rows, [total]] = await db.batch([
    rowsOf(db, sql`SELECT rowid FROM ${jobs} WHERE ${shown ?? sql`1`} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`, order),
    db.select({ n: count() }).from(jobs).where(shown),
  ]);
  return { rows: rows.map(toView), total: total?.n ?? 0, totalExact: true };
}

/** The jobs whose rowids `pageRowids` selects, in `order`, each with its latest run. */
const rowsOf = (db: Db, pageRowids: SQL, order: SQL) => withLatestRun(db).where(sql`${jobs}.rowid IN (${pageRowids})`).orderBy(order);

/**
 * A search walks its matches in rowid order: from the search index, each match joined to its row when
 * a filter needs the row (CROSS JOIN keeps the index first), or a scan for a term too short for it.
 * The page stops after its rows; the count stops after `countLimit` + 1 matches (null: counts them all).
 */
async function listSearched(db: Db, term: string, where: SQL | undefined, shown: SQL | undefined, dir: SQL, limit: number, offset: number, countLimit: number | null) {
  const phrase = isIndexed(term) ? ftsPhrase(term) : undefined;
  const [rowid, matches] = phrase
    ? [sql`jobs_fts.rowid`, where ? sql`jobs_fts CROSS JOIN ${jobs} ON ${jobs}.rowid = jobs_fts.rowid WHERE jobs_fts MATCH ${phrase} AND ${where}` : sql`jobs_fts WHERE jobs_fts MATCH ${phrase}`]
    : [sql`${jobs}.rowid`, sql`${jobs} WHERE ${and(scanCondition(term), where, shown)!}`];
  const [rows, [counted]] = await db.batch([
    rowsOf(db, sql`SELECT ${rowid} FROM ${matches} ORDER BY ${rowid} ${dir} LIMIT ${limit} OFFSET ${offset}`, sql`${jobs}.rowid ${dir}`),
    db.select({ n: count() }).from(countLimit === null ? sql`(SELECT 1 FROM ${matches})` : sql`(SELECT 1 FROM ${matches} LIMIT ${countLimit + 1})`),
  ]);
  const n = counted?.n ?? 0;
  if (countLimit === null) return { rows: rows.map(toView), total: n, totalExact: true };
  return { rows: rows.map(toView), total: Math.min(n, countLimit), totalExact: n <= countLimit };
}

export type JobFields = Partial<Pick<Job, "taskName" | "payload" | "priority" | "webhookUrl" | "notifyOnCancel" | "schedule" | "paused" | "scheduleCursor" | "occurrences">>;

/**
 * Edits a job's definition (for db.batch()). Runs keep the copy they started with, so an edit applies to
 * the next run and never to one under way or its webhook.
 */
export const updateJobFields = (db: Db, id: string, fields: JobFields, now: Date) =>
  db
    .update(jobs)
    .set({ ...fields, updatedAt: now })
    .where(and(eq(jobs.id, id), notDeleted))
    .returning({ id: jobs.id });

/**
 * A deleted job keeps its row, emptied (no task name or payload, so the search index holds nothing of
 * it) and hidden from every read by this status, until the purge has removed its runs, deliveries and
 * log rows in bounded batches (execution/purge.ts). Never a status a job shows.
 */
export const DELETED = "DELETED";
export const notDeleted = sql`${jobs.status} != 'DELETED'`;

/** Marks the listed jobs deleted (those that exist and are not already); returns their ids. */
export function markDeleted(db: Db, ids: string[], now: Date) {
  return db
    .update(jobs)
    .set({
      status: sql`${DELETED}`,
      taskName: "",
      payload: {},
      webhookUrl: null,
      notifyOnCancel: false,
      schedule: null,
      paused: false,
      nextRunAt: null,
      scheduleCursor: null,
      updatedAt: now,
    })
    .where(and(inArray(jobs.id, jsonValues(ids)), notDeleted))
    .returning({ id: jobs.id });
}

/** A deleted job's Idempotency-Keys go with it: the key may make a new job (idempotency_keys_job_idx). */
export const forgetKeysOf = (db: Db, ids: string[]) => db.delete(idempotencyKeys).where(inArray(idempotencyKeys.jobId, jsonValues(ids)));

/**
 * Deleted jobs whose rows the purge still has to remove (jobs_status_idx), the one it looked at least
 * recently first: one that waits for a webhook still owed goes to the back (see purgeLater).
 */
export const findDeletedJobs = (db: Db, limit: number) =>
  db.select({ id: jobs.id }).from(jobs).where(eq(jobs.status, sql`${DELETED}`)).orderBy(jobs.updatedAt).limit(limit);

/** A deleted job the purge could not finish (a webhook of it is still owed) goes to the back of its line. */
export const purgeLater = (db: Db, id: string, now: Date) =>
  db.update(jobs).set({ updatedAt: now }).where(sql`${jobs.id} = ${id} AND ${jobs.status} = ${DELETED}`);

/** The purge's last step: a deleted job's row, once it has no run and no log row left. */
export function deletePurgedJob(db: Db, id: string) {
  return db.delete(jobs).where(sql`${jobs.id} = ${id} AND ${jobs.status} = ${DELETED}
    AND NOT EXISTS (SELECT 1 FROM ${runs} r WHERE r."jobId" = ${id})
    AND NOT EXISTS (SELECT 1 FROM ${webhookLogs} l WHERE l."jobId" = ${id})`);
}

/** The schedules of these jobs (those not deleted), for pause and resume. */
export function findSchedules(db: Db, ids: string[]) {
  return db
    .select({ id: jobs.id, schedule: jobs.schedule, paused: jobs.paused, occurrences: jobs.occurrences })
    .from(jobs)
    .where(and(inArray(jobs.id, jsonValues(ids)), notDeleted));
}

/** Pauses (or resumes) the listed jobs' schedules, those that have one and are not already; returns their ids. */
export function setPaused(db: Db, ids: string[], paused: boolean, now: Date) {
  return db
    .update(jobs)
    .set({ paused, updatedAt: now })
    .where(and(inArray(jobs.id, jsonValues(ids)), notDeleted, sql`${jobs.schedule} IS NOT NULL`, eq(jobs.paused, !paused)))
    .returning({ id: jobs.id });
}

/** Retention: deletes at most `limit` Idempotency-Key records created before `since` (expired), oldest first. */
export function deleteExpiredKeys(db: Db, since: Date, limit: number) {
  return db.delete(idempotencyKeys).where(sql`${idempotencyKeys.key} IN (
    SELECT k.key
    FROM ${idempotencyKeys} k
    WHERE k."createdAt" <= ${since.getTime()}
    ORDER BY k."createdAt"
    LIMIT ${limit}
  )`);
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
 * list's order and with the list's filters (see listJobs and listSearched). Keyset, not OFFSET: each
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
      job: getTableColumns(jobs),
      number: runs.number,
      startedAt: runs.startedAt,
      completedAt: runs.completedAt,
      failureReason: runs.failureReason,
      webhookState: deliveries.state,
    })
    .from(jobs)
    .leftJoin(runs, eq(runs.id, jobs.latestRunId))
    .leftJoin(deliveries, eq(deliveries.runId, jobs.latestRunId))
    .where(sql`${jobs}.rowid IN (${pageRowids})`)
    .orderBy(sql`${jobs}.rowid ${dir}`);
  return rows.map(({ rowid: id, job, number, webhookState, ...run }) => ({ rowid: id, job, lastRun: number === null ? null : { number, ...run, webhookState } }));
}
