/**
 * The job's state changes (runs and webhook deliveries) as Drizzle statements. Every one is
 * conditional on the status, run (and attempt) it expects, so a stale or duplicated queue message
 * finds nothing to update.
 */
import { and, eq, inArray, lt, ne, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { field, jsonEach, jsonValues } from "../db/json-rows";
import { jobs, type DeliveryStatus, type Job } from "../db/schema";
import { runRef } from "./repository";

/** PENDING/COMPLETED/FAILED -> IN_PROGRESS with a new run id, due at `dueAt`, and a fresh delivery state. */
export async function startRun(db: Db, id: string, now: Date, dueAt: Date): Promise<Job | undefined> {
  const [row] = await startRunQuery(db, eq(jobs.id, id), now, dueAt);
  return row;
}

/**
 * startRun for many jobs in one statement; each entry is the started row, or undefined (in progress,
 * unknown, or an id repeated in `ids`: only its first occurrence starts).
 */
export async function startRuns(db: Db, ids: string[], now: Date, dueAt: Date): Promise<(Job | undefined)[]> {
  if (ids.length === 0) return [];
  const rows = await startRunQuery(db, inArray(jobs.id, jsonValues(ids)), now, dueAt);
  return firstOccurrences(ids, rows, (row) => row.id);
}

const startRunQuery = (db: Db, which: SQL | undefined, now: Date, dueAt: Date) =>
  db
    .update(jobs)
    .set({
      status: "IN_PROGRESS",
      runId: sql`${jobs.runId} + 1`,
      startedAt: now,
      dueAt,
      recoveries: 0,
      completedAt: null,
      failureReason: null,
      updatedAt: now,
      deliveryStatus: "NONE",
      deliveryAttempts: 0,
      deliverySeries: 1,
      deliveryLeaseUntil: null,
      nextDeliveryAt: null,
      lastDeliveryError: null,
    })
    .where(and(which, ne(jobs.status, "IN_PROGRESS")))
    .returning();

/** Matches `rows` to `keys`: each row goes to the first key it belongs to; other keys get undefined. */
function firstOccurrences<R>(keys: string[], rows: R[], keyOf: (row: R) => string): (R | undefined)[] {
  const byKey = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => {
    const row = byKey.get(key);
    byKey.delete(key);
    return row;
  });
}

/**
 * IN_PROGRESS -> COMPLETED, only for the run that is still current, and in the same statement claims
 * the first delivery attempt (lease until `leaseUntil`): the common path costs one write.
 */
export async function completeRun(db: Db, id: string, runId: number, now: Date, leaseUntil: Date): Promise<Job | undefined> {
  const [row] = await completeRuns(db, [{ jobId: id, runId }], now, leaseUntil);
  return row;
}

/**
 * completeRun for many runs in one statement; each entry is the completed row or undefined. A run
 * listed twice (two copies of its message in one batch) completes once, for its first copy only.
 */
export async function completeRuns(db: Db, runs: { jobId: string; runId: number }[], now: Date, leaseUntil: Date): Promise<(Job | undefined)[]> {
  if (runs.length === 0) return [];
  const rows = await db
    .update(jobs)
    .set({ status: "COMPLETED", completedAt: now, updatedAt: now, deliveryStatus: "SENDING", deliveryAttempts: 1, deliveryLeaseUntil: leaseUntil })
    // `+status`: look the rows up by primary key, never by walking every IN_PROGRESS row.
    .where(sql`(${jobs.id}, ${jobs.runId}) in (select ${field(0)}, ${field(1)} from ${jsonEach(runs.map((r) => [r.jobId, r.runId]))}) and +${jobs.status} = 'IN_PROGRESS'`)
    .returning();
  return firstOccurrences(runs.map(runKey), rows, (row) => runKey({ jobId: row.id, runId: row.runId }));
}

const runKey = (run: { jobId: string; runId: number }) => `${run.runId}:${run.jobId}`;

/** IN_PROGRESS -> FAILED with a reason, only for the run that is still current; its `job.failed` webhook is then due. */
export async function failRun(db: Db, id: string, runId: number, reason: string, now: Date) {
  const [row] = await failRunQuery(db, id, runId, reason, now);
  return row;
}

export const failRunQuery = (db: Db, id: string, runId: number, reason: string, now: Date) =>
  db
    .update(jobs)
    .set({ status: "FAILED", failureReason: reason, completedAt: now, updatedAt: now, deliveryStatus: "PENDING" })
    .where(and(eq(jobs.id, id), eq(jobs.runId, runId), eq(jobs.status, "IN_PROGRESS")))
    .returning(runRef);

/**
 * Takes the next delivery attempt of the current run: bumps the attempt counter and holds a lease
 * until `leaseUntil`, so a concurrent copy of the same message cannot send a second request.
 */
export async function claimDeliveryAttempt(
  db: Db,
  job: Pick<Job, "id" | "runId" | "deliverySeries" | "deliveryAttempts">,
  now: Date,
  leaseUntil: Date,
): Promise<Job | undefined> {
  const [row] = await db
    .update(jobs)
    .set({ deliveryStatus: "SENDING", deliveryAttempts: job.deliveryAttempts + 1, deliveryLeaseUntil: leaseUntil })
    .where(
      and(
        eq(jobs.id, job.id),
        eq(jobs.runId, job.runId),
        inArray(jobs.status, ["COMPLETED", "FAILED"]),
        eq(jobs.deliverySeries, job.deliverySeries),
        eq(jobs.deliveryAttempts, job.deliveryAttempts),
        or(
          inArray(jobs.deliveryStatus, ["PENDING", "RETRYING"]),
          and(eq(jobs.deliveryStatus, "SENDING"), lt(jobs.deliveryLeaseUntil, now)),
        ),
      ),
    )
    .returning();
  return row;
}

export interface DeliveryOutcome {
  deliveryStatus: Extract<DeliveryStatus, "DELIVERED" | "RETRYING" | "FAILED">;
  nextDeliveryAt: Date | null;
  lastDeliveryError: string | null;
}

/** How one attempt ended, for the job it was made for. */
export interface SettledAttempt {
  job: Pick<Job, "id" | "runId" | "deliverySeries">;
  attempt: number;
  outcome: DeliveryOutcome;
}

/**
 * Records how attempts ended, in one statement for db.batch() so it lands together with their log rows.
 * Conditional on run, series and attempt: an attempt that outlived its lease settles nothing.
 */
export function settleDeliveryAttempts(db: Db, settled: SettledAttempt[]) {
  const rows = settled.map(({ job, attempt, outcome }) => [
    job.id,
    job.runId,
    job.deliverySeries,
    attempt,
    outcome.deliveryStatus,
    outcome.nextDeliveryAt?.getTime() ?? null,
    outcome.lastDeliveryError,
  ]);
  const m = (i: number) => field(i, "m.value");
  return db
    .update(jobs)
    .set({ deliveryStatus: sql`${m(4)}`, nextDeliveryAt: sql`${m(5)}`, lastDeliveryError: sql`${m(6)}`, deliveryLeaseUntil: null })
    .from(sql`${jsonEach(rows)} as m`)
    // `+deliveryStatus`: look the rows up by primary key, never by walking every SENDING row.
    .where(sql`${jobs.id} = ${m(0)} and ${jobs.runId} = ${m(1)} and ${jobs.deliverySeries} = ${m(2)} and ${jobs.deliveryAttempts} = ${m(3)} and +${jobs.deliveryStatus} = 'SENDING'`);
}

/** A finished delivery (DELIVERED or FAILED) starts a new series of attempts with the same webhook-id. */
export async function restartDelivery(db: Db, id: string): Promise<Job | undefined> {
  const [row] = await db
    .update(jobs)
    .set({
      deliveryStatus: "PENDING",
      deliveryAttempts: 0,
      deliverySeries: sql`${jobs.deliverySeries} + 1`,
      deliveryLeaseUntil: null,
      nextDeliveryAt: null,
      lastDeliveryError: null,
    })
    .where(and(eq(jobs.id, id), inArray(jobs.status, ["COMPLETED", "FAILED"]), inArray(jobs.deliveryStatus, ["DELIVERED", "FAILED"])))
    .returning();
  return row;
}

/** The queue gave up on this run's delivery: FAILED with the reason, unless it finished meanwhile. */
export async function giveUpDelivery(db: Db, id: string, runId: number, reason: string) {
  const [row] = await db
    .update(jobs)
    .set({ deliveryStatus: "FAILED", lastDeliveryError: reason, deliveryLeaseUntil: null, nextDeliveryAt: null })
    .where(and(eq(jobs.id, id), eq(jobs.runId, runId), inArray(jobs.deliveryStatus, ["PENDING", "SENDING", "RETRYING"])))
    .returning(runRef);
  return row;
}

/** Counts a recovery of a run whose message never came (conditional, so two sweeps count once). */
export async function markRecovered(db: Db, job: Pick<Job, "id" | "runId" | "recoveries">, now: Date, dueAt: Date) {
  const [row] = await db
    .update(jobs)
    .set({ recoveries: job.recoveries + 1, dueAt, updatedAt: now })
    .where(and(eq(jobs.id, job.id), eq(jobs.runId, job.runId), eq(jobs.status, "IN_PROGRESS"), eq(jobs.recoveries, job.recoveries)))
    .returning(runRef);
  return row;
}

/** Runs still IN_PROGRESS well after their message was due. */
export async function findOverdueRuns(db: Db, before: Date, limit: number) {
  return db
    .select({ ...runRef, recoveries: jobs.recoveries })
    .from(jobs)
    .where(and(eq(jobs.status, "IN_PROGRESS"), lt(jobs.dueAt, before)))
    .limit(limit);
}

/** Deliveries that should have made progress by `before` and did not (their message was lost). */
export async function findStalledDeliveries(db: Db, before: Date, limit: number) {
  return db
    .select(runRef)
    .from(jobs)
    .where(
      or(
        and(eq(jobs.deliveryStatus, "PENDING"), lt(jobs.completedAt, before)),
        and(eq(jobs.deliveryStatus, "RETRYING"), lt(jobs.nextDeliveryAt, before)),
        and(eq(jobs.deliveryStatus, "SENDING"), lt(jobs.deliveryLeaseUntil, before)),
      ),
    )
    .limit(limit);
}
