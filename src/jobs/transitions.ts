/**
 * The job's state changes (runs and webhook deliveries) as Drizzle statements. Every one is
 * conditional on the status, run (and attempt) it expects, so a stale or duplicated queue message
 * finds nothing to update.
 */
import { and, eq, inArray, lt, ne, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { jobs, type DeliveryStatus, type Job } from "../db/schema";
import { runRef } from "./repository";

/** PENDING/COMPLETED/FAILED -> IN_PROGRESS with a new run id, due at `dueAt`, and a fresh delivery state. */
export async function startRun(db: Db, id: string, now: Date, dueAt: Date): Promise<Job | undefined> {
  const [row] = await startRunQuery(db, id, now, dueAt);
  return row;
}

/** startRun for many jobs in one D1 round trip (each entry: the started row, or undefined). */
export async function startRuns(db: Db, ids: string[], now: Date, dueAt: Date): Promise<(Job | undefined)[]> {
  if (ids.length === 0) return [];
  const [first, ...rest] = ids.map((id) => startRunQuery(db, id, now, dueAt));
  return (await db.batch([first!, ...rest])).map((rows) => rows[0]);
}

const startRunQuery = (db: Db, id: string, now: Date, dueAt: Date) =>
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
    .where(and(eq(jobs.id, id), ne(jobs.status, "IN_PROGRESS")))
    .returning();

/**
 * IN_PROGRESS -> COMPLETED, only for the run that is still current, and in the same statement claims
 * the first delivery attempt (lease until `leaseUntil`): the common path costs one write.
 */
export async function completeRun(db: Db, id: string, runId: number, now: Date, leaseUntil: Date): Promise<Job | undefined> {
  const [row] = await completeRunQuery(db, id, runId, now, leaseUntil);
  return row;
}

const completeRunQuery = (db: Db, id: string, runId: number, now: Date, leaseUntil: Date) =>
  db
    .update(jobs)
    .set({ status: "COMPLETED", completedAt: now, updatedAt: now, deliveryStatus: "SENDING", deliveryAttempts: 1, deliveryLeaseUntil: leaseUntil })
    .where(and(eq(jobs.id, id), eq(jobs.runId, runId), eq(jobs.status, "IN_PROGRESS")))
    .returning();

/** completeRun for many runs in one D1 round trip; each entry is the completed row or undefined. */
export async function completeRuns(db: Db, runs: { jobId: string; runId: number }[], now: Date, leaseUntil: Date): Promise<(Job | undefined)[]> {
  if (runs.length === 0) return [];
  const [first, ...rest] = runs.map((r) => completeRunQuery(db, r.jobId, r.runId, now, leaseUntil));
  const results = await db.batch([first!, ...rest]);
  return results.map((rows) => rows[0]);
}

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

/**
 * Records how an attempt ended; a statement for db.batch() so it lands together with its log row.
 * Conditional on run, series and attempt: an attempt that outlived its lease settles nothing.
 */
export function settleDeliveryAttempt(db: Db, job: Pick<Job, "id" | "runId" | "deliverySeries">, attempt: number, outcome: DeliveryOutcome) {
  return db
    .update(jobs)
    .set({ ...outcome, deliveryLeaseUntil: null })
    .where(
      and(
        eq(jobs.id, job.id),
        eq(jobs.runId, job.runId),
        eq(jobs.deliverySeries, job.deliverySeries),
        eq(jobs.deliveryAttempts, attempt),
        eq(jobs.deliveryStatus, "SENDING"),
      ),
    );
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
