/** Drizzle queries for jobs: create, read, list and search, edit, delete. State changes are in transitions.ts. */
import { and, count, eq, getTableColumns, inArray, ne, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { jobs, type Job, type JobStatus, type Priority } from "../db/schema";

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
}

/** `%` and `_` in user text match themselves, not any character. */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);

/** The trigram index needs 3 characters; shorter terms are matched by a scan. */
export const INDEXED_SEARCH_MIN_CHARS = 3;

/** The FTS5 query for `term`: one quoted phrase, so nothing in the term is syntax. */
const ftsPhrase = (term: string) => `"${term.replaceAll('"', '""')}"`;

const isIndexed = (term: string) => [...term].length >= INDEXED_SEARCH_MIN_CHARS;

/**
 * Case-insensitive substring search in the task name or the payload's JSON text. Terms of 3+
 * characters use the FTS5 trigram index (`jobs_fts`); shorter ones scan with LIKE. Both treat `%`,
 * `_` and quotes as plain characters.
 */
export function searchCondition(term: string, indexed = isIndexed(term)): SQL {
  if (indexed) return sql`${jobs}.rowid IN (SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH ${ftsPhrase(term)})`;
  const pattern = `%${escapeLike(term)}%`;
  return or(sql`${jobs.taskName} LIKE ${pattern} ESCAPE '\\'`, sql`${jobs.payload} LIKE ${pattern} ESCAPE '\\'`)!;
}

function whereOf(filter: JobFilter): SQL | undefined {
  const conditions: (SQL | undefined)[] = [];
  if (filter.status) conditions.push(eq(jobs.status, filter.status));
  if (filter.priority) conditions.push(eq(jobs.priority, filter.priority));
  if (filter.search) conditions.push(searchCondition(filter.search));
  return and(...conditions);
}

/**
 * Lists are in creation order: the order rows were inserted (rowid), which is also createdAt order
 * (see insertJob). The search index and the status and priority indexes keep their entries in rowid
 * order, and the createdAt index in createdAt order, so no list sorts.
 */
const direction = { newest: sql.raw("desc"), oldest: sql.raw("asc") };
export type JobSort = keyof typeof direction;

/**
 * createdAt never decreases from one job to the next: it is `now`, or the newest job's createdAt when
 * that is later (another Worker's clock ahead by a few ms). So creation time and insertion order agree,
 * and a list may read its page from whichever index is ordered that way (see listJobs).
 */
const createdAtOf = (now: Date) => sql`max(${now.getTime()}, coalesce((select max(${jobs.createdAt}) from ${jobs}), 0))`;

export async function insertJob(db: Db, job: NewJob, now: Date): Promise<Job> {
  const createdAt = createdAtOf(now);
  const [row] = await db
    .insert(jobs)
    .values({ ...job, createdAt, updatedAt: createdAt })
    .returning();
  return row!;
}

export async function findJob(db: Db, id: string): Promise<Job | undefined> {
  return db.select().from(jobs).where(eq(jobs.id, id)).get();
}

/**
 * Which run a row is on, without its user data: the background paths that must never be stopped by a
 * row they cannot parse (the sweep, the dead-letter consumer) read and return only this.
 */
export const runRef = { id: jobs.id, runId: jobs.runId, status: jobs.status };

export async function findRunState(db: Db, id: string) {
  return db.select(runRef).from(jobs).where(eq(jobs.id, id)).get();
}

/** Which of these ids exist. */
export async function findExisting(db: Db, ids: string[]): Promise<string[]> {
  const rows = await db.select({ id: jobs.id }).from(jobs).where(inArray(jobs.id, ids));
  return rows.map((r) => r.id);
}

/**
 * One page and the total, in one D1 round trip. The page's rowids come first, from an index alone
 * (skipping `offset` entries without reading their rows), then only those rows are read. A search with
 * no other filter takes its page straight from the search index, in order, and counts there too.
 */
export async function listJobs(db: Db, filter: JobFilter, sort: JobSort, limit: number, offset: number) {
  const dir = direction[sort];
  const where = whereOf(filter);
  const indexedSearch = filter.search !== undefined && isIndexed(filter.search);
  if (indexedSearch && (filter.status || filter.priority)) return listSearchedAndFiltered(db, where!, dir, limit, offset);
  const phrase = indexedSearch ? ftsPhrase(filter.search!) : undefined;
  // Unfiltered, the createdAt index is the compact one in creation order; the table itself is not.
  const order = where ? sql`rowid ${dir}` : sql`${jobs.createdAt} ${dir}, rowid ${dir}`;
  const pageRowids = phrase
    ? sql`SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH ${phrase} ORDER BY rowid ${dir} LIMIT ${limit} OFFSET ${offset}`
    : sql`SELECT rowid FROM ${jobs} WHERE ${where ?? sql`1`} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`;
  const [rows, [total]] = await db.batch([
    db.select().from(jobs).where(sql`${jobs}.rowid IN (${pageRowids})`).orderBy(order),
    phrase
      ? db.select({ n: count() }).from(sql`jobs_fts`).where(sql`jobs_fts MATCH ${phrase}`)
      : db.select({ n: count() }).from(jobs).where(where),
  ]);
  return { rows, total: total?.n ?? 0 };
}

/**
 * A search with filters walks the search index once: its matches that pass the filters are collected
 * (a CTE used twice is materialized), then counted and paged in the same statement.
 */
async function listSearchedAndFiltered(db: Db, where: SQL, dir: SQL, limit: number, offset: number) {
  const matched = db.$with("matched").as(db.select({ r: sql<number>`${jobs}.rowid`.as("r") }).from(jobs).where(where));
  const found = await db
    .with(matched)
    .select({ job: getTableColumns(jobs), total: sql<number>`(SELECT count(*) FROM ${matched})` })
    .from(jobs)
    .where(sql`${jobs}.rowid IN (SELECT r FROM ${matched} ORDER BY r ${dir} LIMIT ${limit} OFFSET ${offset})`)
    .orderBy(sql`rowid ${dir}`);
  if (found.length > 0) return { rows: found.map((f) => f.job), total: found[0]!.total };
  // A page past the end has no row to carry the total.
  const [total] = await db.select({ n: count() }).from(jobs).where(where);
  return { rows: [], total: total?.n ?? 0 };
}

/** Edits the fields of a job that is not running; undefined when no such job is in an editable state. */
export async function updateJobFields(
  db: Db,
  id: string,
  fields: Partial<Pick<Job, "taskName" | "payload" | "priority">>,
  now: Date,
): Promise<Job | undefined> {
  const [row] = await db
    .update(jobs)
    .set({ ...fields, updatedAt: now })
    .where(and(eq(jobs.id, id), ne(jobs.status, "IN_PROGRESS")))
    .returning();
  return row;
}

/** Deletes the job; its webhook logs go with it (foreign key ON DELETE CASCADE). */
export async function deleteJob(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(jobs).where(eq(jobs.id, id)).returning({ id: jobs.id });
  return rows.length > 0;
}
