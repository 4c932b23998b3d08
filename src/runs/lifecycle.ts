/**
 * A run's lifecycle: every change of a run's state, each a statement for a db.batch() (failRuns and
 * markRecovered run their own) conditional on the state it expects, so a stale or duplicated message,
 * a second dispatcher or a person acting at the same moment finds nothing to change. No other module writes `runs` (retention
 * and the purge delete finished runs: runs/retention.ts).
 *
 * | transition                  | from -> to                             | guard                                               | called by                                      |
 * | --------------------------- | -------------------------------------- | --------------------------------------------------- | ---------------------------------------------- |
 * | make (insertRuns)           | -> SCHEDULED, or IN_PROGRESS when due  | job not deleted; occurrence not yet made; schedule  | jobs/service (create and edit, through         |
 * |                             |    and a slot is free                  | unchanged and not paused; the run before it left    | schedules/timing insertTimingRun; run, bulk    |
 * |                             |                                        | SCHEDULED (or was cancelled by this batch); run and | run), schedules/service (resume), runs/        |
 * |                             |                                        | bulk run: the job not busy (unlessBusyAt); resume:  | dispatch (next occurrence), runs/service       |
 * |                             |                                        | the job row written by this batch (jobWrittenAt)    | (cancel makes the next occurrence)             |
 * | replan (replanRuns)         | SCHEDULED takes the job's definition   | SCHEDULED                                           | jobs/service (edit)                            |
 * | start (startRuns)           | SCHEDULED -> IN_PROGRESS               | still SCHEDULED; a slot free (MAX_CONCURRENT_RUNS)  | runs/dispatch                                  |
 * | retime (retimeStarted)      | catch-up run takes its occurrence time | IN_PROGRESS, started by the same batch; no other    | runs/dispatch                                  |
 * |                             |                                        | uncancelled run of the job holds that occurrence    |                                                |
 * | complete (finishStatements) | IN_PROGRESS -> COMPLETED (+ delivery)  | IN_PROGRESS and has lasted its duration             | background/run-messages                        |
 * | fail (failRuns)             | IN_PROGRESS -> FAILED (+ delivery)     | IN_PROGRESS                                         | background/sweep (an hour late), background/   |
 * |                             |                                        |                                                     | dead-letter, runs/dispatch (its completion     |
 * |                             |                                        |                                                     | could not be queued)                           |
 * | cancel (cancelRuns)         | SCHEDULED (or IN_PROGRESS with         | that status                                         | runs/service (a person: either status),        |
 * |                             |    `running`) -> CANCELLED             |                                                     | runs/dispatch (schedule policies: SCHEDULED)   |
 * | cancel what is to come      | SCHEDULED -> CANCELLED                 | SCHEDULED (occurrences, or runs set for later)      | jobs/service (edit), schedules/service (pause) |
 * |   (cancelScheduledOf)       |                                        |                                                     |                                                |
 * | cancel unfinished           | SCHEDULED or IN_PROGRESS -> CANCELLED  | that status                                         | jobs/service (delete)                          |
 * |   (cancelUnfinishedOf)      |                                        |                                                     |                                                |
 * | mark queued (markQueued)    | SCHEDULED: start message queued        | SCHEDULED                                           | background/sweep                               |
 * | recover (markRecovered)     | IN_PROGRESS: message sent again        | the recovery count it read                          | background/sweep                               |
 *
 * A finished run's delivery is made in the batch that finishes it (webhooks/deliveries.ts), and its job
 * shows it in the same batch (jobs/state.ts refreshJobs).
 */
import { type SQL, and, eq, inArray, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client";
import { nextId } from "../db/ids";
import { field, jsonEach, jsonValues } from "../db/json-rows";
import { type Delivery, jobs, runs } from "../db/schema";
import { refreshJobs, runningJob } from "../jobs/state";
import { logEvent, type LogEventName } from "../lib/log";
import type { RunRef } from "../webhooks/body";
import { createDeliveries, type NewDeliveries } from "../webhooks/deliveries";
import { afterRunHolds, dueBy, inProgress, offsetSql, runIn, scheduled } from "./conditions";

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
        ${nextId(db, "runs", sql.raw("m.key"))},
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
        0,
        ${m(2)}
      FROM ${jsonEach(json)} AS m
      JOIN ${jobs} ON ${jobs.id} = ${m(0)}
      WHERE ${jobs.status} != 'DELETED'
        AND ${afterRunHolds(m(4), m(6))}
        AND (${m(7)} IS NULL OR ${jobs.updatedAt} = ${m(7)})
        AND (${m(5)} IS NULL OR (${jobs.schedule} = ${m(5)} AND ${jobs.paused} = 0))
        AND ${unlessBusyAt ? sql`NOT ${runningJob(jobs.id)} AND (${jobs.nextRunAt} IS NULL OR ${jobs.nextRunAt} > ${unlessBusyAt.getTime()})` : sql`1`}
      -- In id order (each row's id is its offset in the list): rows appended to the table's end fill its
      -- pages; out of order (as the window above sorts them), they split pages and leave them half full.
      ORDER BY m.key`,
    )
    .onConflictDoNothing()
    .returning();
}

/**
 * A job's runs still to come (SCHEDULED) take its definition as it now stands: nothing of them ran, so
 * an edit applies from the next run on, and a new priority gives them their new place in line.
 */
export function replanRuns(db: Db, jobIds: string[]) {
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
    .where(and(inArray(runs.jobId, jsonValues(jobIds)), scheduled, sql`${job.id} = ${runs.jobId}`));
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
    .set({ dueAt: sql`${m(1)}`, occurrenceAt: sql`${m(1)}`, occurrenceKey: sql`${m(1)}`, rank: sql`${m(1)} + ${offsetSql(runs.priority)}` })
    .from(sql`${jsonEach(retimes.map((r) => [r.id, r.at.getTime()]))} AS m`)
    .where(
      sql`${runs.id} = ${m(0)} AND ${inProgress} AND ${runs.startedAt} = ${startedAt.getTime()}
        AND NOT EXISTS (SELECT 1 FROM ${runs} o WHERE o."jobId" = ${runs.jobId} AND o."occurrenceKey" = ${m(1)})`,
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

/** A finished run per delivery it was given (one per run that this call finished). */
export function logFinished(event: LogEventName, created: Pick<Delivery, "jobId" | "runId" | "webhookId">[], fields: Record<string, unknown> = {}) {
  for (const delivery of created) logEvent(event, { jobId: delivery.jobId, runId: delivery.runId, deliveryId: delivery.webhookId, ...fields });
}

/** The statements, for one db.batch(); the second returns the deliveries it created. */
export function finishStatements(db: Db, refs: RunRef[], end: RunEnd, now: Date, delivery: NewDeliveries) {
  return [finishRuns(db, refs, end, now), createDeliveries(db, refs, now, delivery), ...refreshJobs(db, refs.map((r) => r.jobId), now, { finished: refs })] as const;
}

/**
 * IN_PROGRESS -> FAILED with a reason, only for runs still in progress; each one's job.failed delivery
 * is created PENDING. Returns how many were failed here (the caller then queues their webhooks).
 */
export async function failRuns(db: Db, refs: RunRef[], reason: string, now: Date, url: string | null): Promise<number> {
  const [, created] = await db.batch(finishStatements(db, refs, { status: "FAILED", reason }, now, { url, claimedUntil: null }));
  logFinished("run.failed", created, { reason });
  return created.length;
}

/**
 * What a cancel writes, whoever cancels: the status, when, and why (the run's failure reason). A
 * cancelled run gives up its occurrence (occurrenceKey): an edit of the schedule may make it again.
 */
const cancelledWith = (reason: string | SQL, now: Date) => ({ status: "CANCELLED" as const, completedAt: now, expectedAt: null, failureReason: reason, occurrenceKey: null });

/** SCHEDULED (or IN_PROGRESS, when `running` allows it) -> CANCELLED, each with its reason. Returns the runs cancelled. */
export function cancelRuns(db: Db, cancels: { id: number; reason: string }[], now: Date, { running = false } = {}) {
  const m = (i: number) => field(i, "m.value");
  return db
    .update(runs)
    .set(cancelledWith(sql`${m(1)}`, now))
    .from(sql`${jsonEach(cancels.map((c) => [c.id, c.reason]))} AS m`)
    .where(sql`${runs.id} = ${m(0)} AND ${runs.status} IN ${running ? sql`('SCHEDULED', 'IN_PROGRESS')` : sql`('SCHEDULED')`}`)
    .returning();
}

/**
 * The unfinished runs of these jobs (deleted): CANCELLED with the reason, and no webhook. Two
 * statements, each through its partial index (runs_job_scheduled_idx, runs_in_progress_idx): a job with
 * 50 000 finished runs costs what one with none does.
 */
export function cancelUnfinishedOf(db: Db, jobIds: string[], reason: string, now: Date) {
  const cancel = (which: SQL) =>
    db
      .update(runs)
      .set(cancelledWith(reason, now))
      .where(and(inArray(runs.jobId, jsonValues(jobIds)), which))
      .returning();
  return [cancel(scheduled), cancel(inProgress)] as const;
}

/**
 * Cancels a job's runs still to come (SCHEDULED, through runs_job_scheduled_idx): its schedule's
 * occurrences, and its one-off runs set for later unless `occurrencesOnly` (a "run now" waiting for a
 * slot is a request to run, not a plan, and stays).
 */
export function cancelScheduledOf(db: Db, jobIds: string[], reason: string, now: Date, { occurrencesOnly = false } = {}) {
  const which = occurrencesOnly ? sql`${runs.occurrenceAt} IS NOT NULL` : sql`(${runs.occurrenceAt} IS NOT NULL OR ${runs.dueAt} > ${now.getTime()})`;
  return db
    .update(runs)
    .set(cancelledWith(reason, now))
    .where(and(inArray(runs.jobId, jsonValues(jobIds)), scheduled, which))
    .returning();
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

/** Marks SCHEDULED runs whose start message was just queued (the sweep then leaves them to it). */
export function markQueued(db: Db, ids: number[]) {
  return db
    .update(runs)
    .set({ expectedAt: sql`${runs.dueAt}` })
    .where(and(inArray(runs.id, jsonValues(ids)), scheduled));
}
