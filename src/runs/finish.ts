/**
 * Finishing runs: the run's new status, its delivery (body frozen from the run) and its job's status
 * go in one db.batch(), so a finished run never lacks its webhook and a job always shows its latest run.
 */
import type { Db } from "../db/client";
import type { RunRef } from "../deliveries/body";
import { createDeliveries, type NewDeliveries } from "../deliveries/transitions";
import type { Delivery } from "../db/schema";
import { logEvent, type LogEventName } from "../lib/log";
import { finishRuns, refreshJobs, type RunEnd } from "./transitions";

/** A finished run per delivery it was given (one per run that this call finished). */
export function logFinished(event: LogEventName, created: Pick<Delivery, "jobId" | "runId" | "webhookId">[], fields: Record<string, unknown> = {}) {
  for (const delivery of created) logEvent(event, { jobId: delivery.jobId, runId: delivery.runId, deliveryId: delivery.webhookId, ...fields });
}

/** The statements, for one db.batch(); the second returns the deliveries it created. */
export function finishStatements(db: Db, refs: RunRef[], end: RunEnd, now: Date, delivery: NewDeliveries) {
  return [finishRuns(db, refs, end, now), createDeliveries(db, refs, now, delivery), refreshJobs(db, refs.map((r) => r.jobId), now)] as const;
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
