/**
 * The sweep (the Cron Trigger every minute; `npm start` fires it locally): runs and deliveries whose
 * queue message was lost are queued again, and a run that keeps losing its message is failed with the
 * reason. It reads no user data and a bounded number of rows (partial indexes of unfinished work).
 */
import { getDb } from "../db/client";
import { findStalledDeliveries } from "../deliveries/transitions";
import { getConfig, type Env, type JobMessage } from "../env";
import { failRuns } from "../runs/finish";
import { findOverdueRuns, markRecovered } from "../runs/transitions";

/** How long past its expected time a run (or a delivery past its next attempt) may go quiet before the sweep acts. */
export const DEFAULT_SWEEP_GRACE_SECONDS = 60;
/** Re-queued this many times without finishing, a run is failed. */
export const MAX_RECOVERIES = 3;
/** Most rows one sweep handles of each kind; the next sweep takes the rest. */
const SWEEP_BATCH = 100;

export interface SweepReport {
  requeuedRuns: number;
  failedRuns: number;
  requeuedDeliveries: number;
}

export async function sweep(env: Env, now: Date): Promise<SweepReport> {
  const db = getDb(env.DB);
  const { jobDurationSeconds, sweepGraceSeconds, webhookUrl } = getConfig(env);
  const before = new Date(now.getTime() - sweepGraceSeconds * 1000);
  const report: SweepReport = { requeuedRuns: 0, failedRuns: 0, requeuedDeliveries: 0 };
  const messages: JobMessage[] = [];

  for (const run of await findOverdueRuns(db, before, SWEEP_BATCH)) {
    if (run.status !== "IN_PROGRESS") continue;
    const message = { jobId: run.jobId, run: run.number };
    if (run.recoveries >= MAX_RECOVERIES) {
      const reason = `execution could not be completed: no progress after ${MAX_RECOVERIES} recoveries`;
      if (await failRuns(db, [{ jobId: run.jobId, number: run.number }], reason, now, webhookUrl)) {
        report.failedRuns += 1;
        messages.push(message); // its job.failed webhook
      }
    } else if (await markRecovered(db, run, new Date(now.getTime() + jobDurationSeconds * 1000))) {
      report.requeuedRuns += 1;
      messages.push(message);
    }
  }
  for (const stalled of await findStalledDeliveries(db, before, SWEEP_BATCH)) {
    report.requeuedDeliveries += 1;
    messages.push({ jobId: stalled.jobId, run: stalled.number });
  }
  // Extra copies are harmless (every step is conditional), so a message that also arrives late costs nothing.
  for (let i = 0; i < messages.length; i += 100) {
    await env.JOB_QUEUE.sendBatch(messages.slice(i, i + 100).map((body) => ({ body })));
  }
  return report;
}
