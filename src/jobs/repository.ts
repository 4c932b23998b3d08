/** Drizzle queries for jobs: create, read, list and search, edit, delete. State changes are in transitions.ts. */
import { and, asc, count, desc, eq, inArray, ne, or, sql, type SQL } from "drizzle-orm";
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

/**
 * Case-insensitive substring search in the task name or the payload's JSON text. Terms of 3+
 * characters use the FTS5 trigram index (`jobs_fts`, one quoted phrase, so nothing in the term is
 * syntax); shorter ones scan with LIKE. Both treat `%`, `_` and quotes as plain characters.
 */
export function searchCondition(term: string, indexed = [...term].length >= INDEXED_SEARCH_MIN_CHARS): SQL {
  if (indexed) {
    const phrase = `"${term.replaceAll('"', '""')}"`;
    return sql`${jobs}.rowid IN (SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH ${phrase})`;
  }
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

/** By creation time; jobs created in the same millisecond keep their insertion order (rowid). */
const byCreation = {
  newest: [desc(jobs.createdAt), sql`${jobs}.rowid desc`],
  oldest: [asc(jobs.createdAt), sql`${jobs}.rowid asc`],
};
export type JobSort = keyof typeof byCreation;

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

export async function listJobs(db: Db, filter: JobFilter, sort: JobSort, limit: number, offset: number) {
  const where = whereOf(filter);
  const [rows, [total]] = await db.batch([
    db.select().from(jobs).where(where).orderBy(...byCreation[sort]).limit(limit).offset(offset),
    db.select({ n: count() }).from(jobs).where(where),
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
