/** Drizzle queries for jobs: create, read, list and search, edit, delete. State changes are in transitions.ts. */
import { and, count, eq, inArray, ne, or, sql, type SQL } from "drizzle-orm";
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
 * Lists are in creation order: the order rows were inserted (rowid), which D1 assigns one at a time,
 * so it cannot disagree with itself the way the clocks of two Workers could. It is also the order in
 * which the search index and the status and priority indexes keep their entries: no query sorts.
 */
const direction = { newest: sql.raw("desc"), oldest: sql.raw("asc") };
export type JobSort = keyof typeof direction;

export async function insertJob(db: Db, job: NewJob, now: Date): Promise<Job> {
  const [row] = await db
    .insert(jobs)
    .values({ ...job, createdAt: now, updatedAt: now })
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
  const phrase = filter.search && isIndexed(filter.search) && !filter.status && !filter.priority ? ftsPhrase(filter.search) : undefined;
  const pageRowids = phrase
    ? sql`SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH ${phrase} ORDER BY rowid ${dir} LIMIT ${limit} OFFSET ${offset}`
    : sql`SELECT rowid FROM ${jobs} WHERE ${whereOf(filter) ?? sql`1`} ORDER BY rowid ${dir} LIMIT ${limit} OFFSET ${offset}`;
  const [rows, [total]] = await db.batch([
    db.select().from(jobs).where(sql`${jobs}.rowid IN (${pageRowids})`).orderBy(sql`${jobs}.rowid ${dir}`),
    phrase
      ? db.select({ n: count() }).from(sql`jobs_fts`).where(sql`jobs_fts MATCH ${phrase}`)
      : db.select({ n: count() }).from(jobs).where(whereOf(filter)),
  ]);
  return { rows, total: total?.n ?? 0 };
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
