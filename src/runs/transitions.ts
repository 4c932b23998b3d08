/**
 * A run's state changes as Drizzle statements, each conditional on the state it expects, so a stale
 * or duplicated queue message finds nothing to change. Starting and finishing a run also keep its job
 * pointing at its latest run and showing that run's status; the statements go together in one
 * db.batch() (one transaction).
 */
import { and, eq, inArray, lt, ne, sql, type SQL } from "drizzle-orm";
import { alias, type AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client";
import { field, jsonEach, jsonValues } from "../db/json-rows";
import { jobs, runs, type Job, type Run } from "../db/schema";
import type { RunRef } from "../deliveries/body";

/** `(jobId, number) IN refs`, looked up through the (jobId, number) index (of `table`: runs or an alias of it). */
export const runIn = (refs: RunRef[], table: { jobId: AnySQLiteColumn; number: AnySQLiteColumn } = runs): SQL =>
  sql`(${table.jobId}, ${table.number}) IN (SELECT ${field(0)}, ${field(1)} FROM ${jsonEach(refs.map((r) => [r.jobId, r.number]))})`;

const inProgress = () => sql`${runs.status} = 'IN_PROGRESS'`;

/**
 * Starts a run of each job that is not IN_PROGRESS: a new run row (the job's next number, a frozen copy
 * of its task name, payload and priority), then the job points at it and shows IN_PROGRESS. Both
 * statements test the same job status, so a job already running gets neither. One round trip; returns
 * each started job with its run.
 */
export async function startRuns(db: Db, jobIds: string[], now: Date, expectedAt: Date): Promise<{ job: Job; run: Run }[]> {
  if (jobIds.length === 0) return [];
  const which = and(inArray(jobs.id, jsonValues(jobIds)), ne(jobs.status, "IN_PROGRESS"));
  const insert = db
    .insert(runs)
    .select(
      // Every column of `runs`, in table order.
      sql`SELECT
        NULL,
        ${jobs.id},
        coalesce((SELECT max(${runs.number}) FROM ${runs} WHERE ${runs.jobId} = ${jobs.id}), 0) + 1,
        'IN_PROGRESS',
        ${jobs.taskName},
        ${jobs.payload},
        ${jobs.priority},
        ${now.getTime()},
        ${now.getTime()},
        ${expectedAt.getTime()},
        NULL,
        NULL,
        0
      FROM ${jobs}
      WHERE ${which}`,
    )
    .returning();
  const point = db
    .update(jobs)
    .set({
      status: "IN_PROGRESS",
      updatedAt: now,
      latestRunId: sql`(SELECT ${runs.id} FROM ${runs} WHERE ${runs.jobId} = ${jobs.id} ORDER BY ${runs.number} DESC LIMIT 1)`,
    })
    .where(which)
    .returning();
  const [started, pointed] = await db.batch([insert, point]);
  const runOf = new Map(started.map((run) => [run.jobId, run]));
  return pointed.map((job) => ({ job, run: runOf.get(job.id)! }));
}

export type RunEnd = { status: "COMPLETED" } | { status: "FAILED"; reason: string };

/** IN_PROGRESS -> COMPLETED or FAILED for the listed runs that are still in progress. */
export function finishRuns(db: Db, refs: RunRef[], end: RunEnd, now: Date) {
  return db
    .update(runs)
    .set({ status: end.status, completedAt: now, expectedAt: null, failureReason: end.status === "FAILED" ? end.reason : null })
    .where(and(runIn(refs), inProgress()));
}

/**
 * Each listed job whose latest run is listed takes that run's status (a job shows its latest run).
 * Driven by the runs: each job is found by its primary key, never by scanning.
 */
export function syncJobStatus(db: Db, refs: RunRef[], now: Date) {
  const latest = alias(runs, "latest");
  return db
    .update(jobs)
    .set({ status: sql`${latest.status}`, updatedAt: now })
    .from(latest)
    .where(sql`${runIn(refs, latest)} AND ${jobs.id} = ${latest.jobId} AND ${jobs.latestRunId} = ${latest.id} AND ${jobs.status} != ${latest.status}`);
}

/** Counts a recovery of a run whose message never came (conditional, so two sweeps count once). */
export async function markRecovered(db: Db, run: Pick<Run, "id" | "recoveries">, expectedAt: Date) {
  const [row] = await db
    .update(runs)
    .set({ recoveries: run.recoveries + 1, expectedAt })
    .where(and(eq(runs.id, run.id), inProgress(), eq(runs.recoveries, run.recoveries)))
    .returning({ id: runs.id });
  return row;
}

/** Runs whose message is overdue (their expected time is before `before`), without user data. */
export function findOverdueRuns(db: Db, before: Date, limit: number) {
  return db
    .select({ id: runs.id, jobId: runs.jobId, number: runs.number, status: runs.status, recoveries: runs.recoveries })
    .from(runs)
    .where(lt(runs.expectedAt, before))
    .limit(limit);
}
