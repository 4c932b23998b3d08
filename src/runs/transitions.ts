/**
 * A run's state changes as Drizzle statements, each conditional on the state it expects, so a stale
 * or duplicated queue message finds nothing to change. Each batch that changes runs ends with
 * refreshJobs, so a job always shows its runs as they are; a db.batch() is one transaction.
 *
 * SCHEDULED -> IN_PROGRESS (the dispatcher, when due and a slot is free) -> COMPLETED | FAILED;
 * SCHEDULED or IN_PROGRESS -> CANCELLED.
 */
import { and, eq, inArray, lt, sql, type SQL } from "drizzle-orm";
import { alias, type AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client";
import { field, jsonEach, jsonValues } from "../db/json-rows";
import { jobs, runs, type Priority } from "../db/schema";
import type { RunRef } from "../deliveries/body";

/** `(jobId, number) IN refs`, looked up through the (jobId, number) index (of `table`: runs or an alias of it). */
export const runIn = (refs: RunRef[], table: { jobId: AnySQLiteColumn; number: AnySQLiteColumn } = runs): SQL =>
  sql`(${table.jobId}, ${table.number}) IN (SELECT ${field(0)}, ${field(1)} FROM ${jsonEach(refs.map((r) => [r.jobId, r.number]))})`;

// Literal statuses (not bound parameters), so SQLite can use the partial indexes on them.
export const inProgress = sql`${runs.status} = 'IN_PROGRESS'`;
export const scheduled = sql`${runs.status} = 'SCHEDULED'`;
/** Finished, written as runs_finished_idx's own condition (the planner uses the index only then). */
export const finished = sql`${runs.status} IN ('COMPLETED', 'FAILED', 'CANCELLED')`;

/**
 * Priority as a time offset: a run's place in line for a free slot is its due time plus this. HIGH goes
 * first among runs due together; a LOW run is passed only by runs due less than 2 min after it, so it
 * is never starved.
 */
export const PRIORITY_OFFSET_MS: Record<Priority, number> = { HIGH: 0, MEDIUM: 30_000, LOW: 120_000 };
export const MAX_PRIORITY_OFFSET_MS = Math.max(...Object.values(PRIORITY_OFFSET_MS));

/**
 * A SCHEDULED run due by `now`, found through the index of places in line: a run's rank is at most its
 * due time plus the largest offset, so the range on rank bounds the lookup.
 */
export const dueBy = (now: number) => sql`${scheduled} AND ${runs.rank} <= ${now + MAX_PRIORITY_OFFSET_MS} AND ${runs.dueAt} <= ${now}`;

const offsetSql = (priority: AnySQLiteColumn) =>
  sql`CASE ${priority} WHEN 'HIGH' THEN ${PRIORITY_OFFSET_MS.HIGH} WHEN 'MEDIUM' THEN ${PRIORITY_OFFSET_MS.MEDIUM} ELSE ${PRIORITY_OFFSET_MS.LOW} END`;

/** Start runs due now at once, as the dispatcher would (see insertRuns): their duration, and the slots (0: no limit). */
export interface StartNow {
  now: Date;
  durationMs: number;
  limit: number;
}

export interface NewRun {
  jobId: string;
  dueAt: Date;
  /** The occurrence of the job's schedule this run is; null for a one-off run. */
  occurrenceAt: Date | null;
  /** Set when a start message is queued for dueAt (it is, for runs due within a message's reach). */
  expectedAt: Date | null;
  /** Made only once this run is no longer SCHEDULED (the occurrence before it started or was cancelled). */
  afterRunId?: number | null;
  /** With afterRunId: made only if that run was CANCELLED at this time (by the cancel in the same batch). */
  afterCancelAt?: Date | null;
  /** Made only if the job row was written at this time (by the resume earlier in the same batch). */
  jobWrittenAt?: Date | null;
  /** Made only while the job still has this schedule (its stored JSON) and is not paused: an edit or a pause in between wins. */
  schedule?: string | null;
}

/**
 * SCHEDULED runs for these jobs: the job's next number, a frozen copy of its task name, payload and
 * priority. An occurrence already made is not made again (runs_occurrence_idx). With `unlessBusyAt`,
 * a job that is IN_PROGRESS or already has a run due by then gets none (a second "run now" while one
 * runs or waits to is refused). With `start` (runs due now), a run is made IN_PROGRESS at once when the
 * dispatcher would start it: no other due run waits for a slot, and a slot is free for it, taken in
 * place-in-line order; the others are made SCHEDULED, for the dispatcher. Returns the runs made.
 */
export function insertRuns(db: Db, rows: NewRun[], { unlessBusyAt, start }: { unlessBusyAt?: Date; start?: StartNow } = {}) {
  const m = (i: number) => field(i, "m.value");
  const json = rows.map((r) => [r.jobId, r.dueAt.getTime(), r.occurrenceAt?.getTime() ?? null, r.expectedAt?.getTime() ?? null, r.afterRunId ?? null, r.schedule ?? null, r.afterCancelAt?.getTime() ?? null, r.jobWrittenAt?.getTime() ?? null]);
  const rank = sql`${m(1)} + ${offsetSql(jobs.priority)}`;
  const now = start?.now.getTime() ?? 0;
  // SQLite reads the whole SELECT before inserting into the table it reads: the count and the waiting
  // runs are those from before this statement.
  const startsNow = start
    ? sql`(NOT EXISTS (SELECT 1 FROM ${runs} WHERE ${dueBy(now)})
        AND (${start.limit} = 0 OR (SELECT count(*) FROM ${runs} WHERE ${inProgress}) + row_number() OVER (ORDER BY ${rank}) <= ${start.limit}))`
    : sql`0`;
  const expectedEnd = now + (start?.durationMs ?? 0);
  return db
    .insert(runs)
    .select(
      // Every column of `runs`, in table order.
      sql`SELECT
        NULL,
        ${jobs.id},
        coalesce((SELECT max(${runs.number}) FROM ${runs} WHERE ${runs.jobId} = ${jobs.id}), 0) + 1,
        CASE WHEN ${startsNow} THEN 'IN_PROGRESS' ELSE 'SCHEDULED' END,
        ${jobs.taskName},
        ${jobs.payload},
        ${jobs.priority},
        ${m(1)},
        ${m(2)},
        ${rank},
        CASE WHEN ${startsNow} THEN ${now} END,
        CASE WHEN ${startsNow} THEN ${expectedEnd} ELSE ${m(3)} END,
        NULL,
        NULL,
        0
      FROM ${jsonEach(json)} AS m
      JOIN ${jobs} ON ${jobs.id} = ${m(0)}
      WHERE ${jobs.status} != 'DELETED'
        AND ${afterRunHolds(m(4), m(6))}
        AND (${m(7)} IS NULL OR ${jobs.updatedAt} = ${m(7)})
        AND (${m(5)} IS NULL OR (${jobs.schedule} = ${m(5)} AND ${jobs.paused} = 0))
        AND ${unlessBusyAt ? sql`${jobs.status} != 'IN_PROGRESS' AND (${jobs.nextRunAt} IS NULL OR ${jobs.nextRunAt} > ${unlessBusyAt.getTime()})` : sql`1`}`,
    )
    .onConflictDoNothing()
    .returning();
}

/**
 * The condition on the run before a new one (NewRun's afterRunId and afterCancelAt, as SQL values):
 * none, or it has left SCHEDULED, or (with a cancel time) it was cancelled then.
 */
export const afterRunHolds = (runId: SQL, cancelAt: SQL) => sql`(${runId} IS NULL OR CASE
    WHEN ${cancelAt} IS NULL THEN NOT EXISTS (SELECT 1 FROM ${runs} WHERE ${runs.id} = ${runId} AND ${scheduled})
    ELSE ${cancelledAt(runId, cancelAt)}
  END)`;

/**
 * Whether the run was CANCELLED at `at` (the cancel of the same batch): the statements that follow a
 * person's cancel in its batch depend on it, so a cancel that found its run finished changes nothing.
 */
export const cancelledAt = (runId: SQL | number, at: SQL | Date) =>
  sql`EXISTS (SELECT 1 FROM ${runs} c WHERE c.id = ${runId} AND c.status = 'CANCELLED' AND c."completedAt" = ${at instanceof Date ? at.getTime() : at})`;

/**
 * A job's runs still to come (SCHEDULED) take its definition as it now stands: nothing of them ran, so
 * an edit applies from the next run on, and a new priority gives them their new place in line.
 */
export function replanRuns(db: Db, jobId: string) {
  const job = alias(jobs, "job");
  return db
    .update(runs)
    .set({
      taskName: sql`${job.taskName}`,
      payload: sql`${job.payload}`,
      priority: sql`${job.priority}`,
      rank: sql`${runs.dueAt} + ${offsetSql(job.priority)}`,
    })
    .from(job)
    .where(and(eq(runs.jobId, jobId), scheduled, sql`${job.id} = ${runs.jobId}`));
}

/**
 * Gives catch-up runs (each standing for the latest occurrence its schedule missed) that occurrence's
 * time, only if the run was started at `startedAt` (by the startRuns earlier in the same batch): a run
 * that lost its slot keeps its own time and place in line. Unless a run of the job already holds that
 * time (then the run keeps its own: an occurrence is never made twice, and the statement never fails on it).
 */
export function retimeStarted(db: Db, retimes: { id: number; at: Date }[], startedAt: Date) {
  const m = (i: number) => field(i, "m.value");
  return db
    .update(runs)
    .set({ dueAt: sql`${m(1)}`, occurrenceAt: sql`${m(1)}`, rank: sql`${m(1)} + ${offsetSql(runs.priority)}` })
    .from(sql`${jsonEach(retimes.map((r) => [r.id, r.at.getTime()]))} AS m`)
    .where(
      sql`${runs.id} = ${m(0)} AND ${inProgress} AND ${runs.startedAt} = ${startedAt.getTime()}
        AND NOT EXISTS (SELECT 1 FROM ${runs} o WHERE o."jobId" = ${runs.jobId} AND o."occurrenceAt" = ${m(1)} AND o.status != 'CANCELLED')`,
    );
}

/**
 * SCHEDULED -> IN_PROGRESS for the listed runs, best place in line first, as many as there are free
 * slots (`limit` runs in progress at once; 0: no limit). The count and the update are one statement,
 * so two dispatchers at once never start more than the limit. Returns the runs started.
 */
export function startRuns(db: Db, ids: number[], now: Date, durationMs: number, limit: number) {
  const slots = limit > 0 ? sql`LIMIT max(0, ${limit} - (SELECT count(*) FROM ${runs} WHERE ${inProgress}))` : sql``;
  return db
    .update(runs)
    .set({ status: "IN_PROGRESS", startedAt: now, expectedAt: new Date(now.getTime() + durationMs) })
    .where(sql`${runs.id} IN (SELECT ${runs.id} FROM ${runs} WHERE ${runs.id} IN ${jsonValues(ids)} AND ${scheduled} ORDER BY ${runs.rank} ${slots})`)
    .returning();
}

/** How runs end: COMPLETED once they have lasted `durationMs`, or FAILED with a reason (at any time). */
export type RunEnd = { status: "COMPLETED"; durationMs: number } | { status: "FAILED"; reason: string };

/**
 * IN_PROGRESS -> COMPLETED or FAILED for the listed runs that are still in progress. A run completes
 * only once it has lasted its duration: a message that comes earlier (the start message of a run that
 * another path started after it was sent) finds nothing to complete, and waits for the rest.
 */
export function finishRuns(db: Db, refs: RunRef[], end: RunEnd, now: Date) {
  const lasted = end.status === "COMPLETED" ? sql`${runs.startedAt} <= ${now.getTime() - end.durationMs}` : undefined;
  return db
    .update(runs)
    .set({ status: end.status, completedAt: now, expectedAt: null, failureReason: end.status === "FAILED" ? end.reason : null })
    .where(and(runIn(refs), inProgress, lasted));
}

/** SCHEDULED (or IN_PROGRESS, when `running` allows it) -> CANCELLED, each with its reason. Returns the runs cancelled. */
export function cancelRuns(db: Db, cancels: { id: number; reason: string }[], now: Date, { running = false } = {}) {
  const m = (i: number) => field(i, "m.value");
  return db
    .update(runs)
    .set({ status: "CANCELLED", completedAt: now, expectedAt: null, failureReason: sql`${m(1)}` })
    .from(sql`${jsonEach(cancels.map((c) => [c.id, c.reason]))} AS m`)
    .where(sql`${runs.id} = ${m(0)} AND ${runs.status} IN ${running ? sql`('SCHEDULED', 'IN_PROGRESS')` : sql`('SCHEDULED')`}`)
    .returning();
}

/**
 * The unfinished runs of these jobs (deleted): CANCELLED with the reason, and no webhook. Two
 * statements, each through its partial index (runs_job_scheduled_idx, runs_job_running_idx): a job with
 * 50 000 finished runs costs what one with none does.
 */
export function cancelUnfinishedOf(db: Db, jobIds: string[], reason: string, now: Date) {
  const cancel = (which: SQL) =>
    db
      .update(runs)
      .set({ status: "CANCELLED", completedAt: now, expectedAt: null, failureReason: reason })
      .where(and(inArray(runs.jobId, jsonValues(jobIds)), which))
      .returning();
  return [cancel(scheduled), cancel(inProgress)] as const;
}

/**
 * The job's latest run becomes each of these runs (a run a person cancels is what the job shows; an
 * occurrence skipped by a policy or an edit is not). Runs that start take their place through
 * refreshJobs' `started`.
 */
export function pointLatest(db: Db, runIds: number[], { onlyCancelledAt }: { onlyCancelledAt?: Date } = {}) {
  const latest = alias(runs, "latest");
  // After a person's cancel: only the runs that the cancel earlier in the same batch cancelled.
  const onlyIf = onlyCancelledAt ? sql`${latest.status} = 'CANCELLED' AND ${latest.completedAt} = ${onlyCancelledAt.getTime()}` : sql`1`;
  return db
    .update(jobs)
    .set({ latestRunId: sql`${latest.id}` })
    .from(latest)
    .where(sql`${latest.id} IN ${jsonValues(runIds.length > 0 ? runIds : [-1])} AND ${jobs.id} = ${latest.jobId} AND ${onlyIf}`);
}

/**
 * What each listed job shows from its runs: IN_PROGRESS while any of its runs is in progress, else
 * SCHEDULED while a run is to come (nextRunAt: the earliest), else the status of its latest run, else
 * PENDING. Index lookups only (runs_job_running_idx, runs_job_scheduled_idx, the primary key).
 */
export function refreshJobs(db: Db, jobIds: string[], now: Date, { started = false }: { started?: boolean } = {}) {
  const status = sql`CASE
    WHEN s.running THEN 'IN_PROGRESS'
    WHEN s.nextAt IS NOT NULL THEN 'SCHEDULED'
    ELSE coalesce(s.latestStatus, 'PENDING')
  END`;
  // With `started`, a run of the job that started at `now` becomes its latest run, in the same write
  // (it is in progress, so `running` already decides the status).
  const startedNow = started
    ? sql`(SELECT r.id FROM ${runs} r WHERE r."jobId" = j.id AND r.status = 'IN_PROGRESS' AND r."startedAt" = ${now.getTime()} ORDER BY r.id DESC LIMIT 1)`
    : sql`NULL`;
  return db
    .update(jobs)
    .set({ nextRunAt: sql`s.nextAt`, status: sql`${status}`, latestRunId: sql`coalesce(s.startedNow, ${jobs.latestRunId})`, updatedAt: now })
    .from(
      sql`(
        SELECT j.id,
               EXISTS (SELECT 1 FROM ${runs} r WHERE r."jobId" = j.id AND r.status = 'IN_PROGRESS') AS running,
               (SELECT min(r."dueAt") FROM ${runs} r WHERE r."jobId" = j.id AND r.status = 'SCHEDULED') AS nextAt,
               (SELECT r.status FROM ${runs} r WHERE r.id = j."latestRunId") AS latestStatus,
               ${startedNow} AS startedNow
        FROM ${jobs} j
        WHERE j.id IN ${jsonValues([...new Set(jobIds)])}
          AND j.status != 'DELETED'
      ) AS s`,
    )
    .where(sql`${jobs.id} = s.id AND (${jobs.nextRunAt} IS NOT s.nextAt OR ${jobs.status} != ${status} OR ${jobs.latestRunId} IS NOT coalesce(s.startedNow, ${jobs.latestRunId}))`);
}

/**
 * Counts a recovery of a run whose message never came (conditional, so two sweeps count once); the
 * sweep looks at it again after `expectedAt`.
 */
export async function markRecovered(db: Db, run: { id: number; recoveries: number }, expectedAt: Date) {
  const [row] = await db
    .update(runs)
    .set({ recoveries: run.recoveries + 1, expectedAt })
    .where(and(eq(runs.id, run.id), inProgress, eq(runs.recoveries, run.recoveries)))
    .returning({ id: runs.id });
  return row;
}

/** Runs in progress whose message is overdue (expected before `before`), without user data. */
export function findOverdueRuns(db: Db, before: Date, limit: number) {
  return db
    .select({ id: runs.id, jobId: runs.jobId, number: runs.number, recoveries: runs.recoveries, startedAt: runs.startedAt })
    .from(runs)
    .where(and(inProgress, lt(runs.expectedAt, before)))
    .limit(limit);
}

/** Marks SCHEDULED runs whose start message was just queued (the sweep then leaves them to it). */
export function markQueued(db: Db, ids: number[]) {
  return db
    .update(runs)
    .set({ expectedAt: sql`${runs.dueAt}` })
    .where(and(inArray(runs.id, jsonValues(ids)), scheduled));
}

/**
 * SCHEDULED runs due within `aheadMs` with no start message queued yet (scheduled further ahead than a
 * message could wait), from the dispatch index.
 */
export function findUnqueuedRuns(db: Db, now: Date, aheadMs: number, limit: number) {
  return db
    .select({ id: runs.id, jobId: runs.jobId, number: runs.number, dueAt: runs.dueAt })
    .from(runs)
    // rank >= dueAt > now: the scan starts after the runs already due (those waiting for a slot).
    .where(sql`${scheduled} AND ${runs.rank} > ${now.getTime()} AND ${runs.rank} <= ${now.getTime() + aheadMs + MAX_PRIORITY_OFFSET_MS} AND ${runs.expectedAt} IS NULL AND ${runs.dueAt} > ${now.getTime()}`)
    .orderBy(runs.rank)
    .limit(limit);
}
