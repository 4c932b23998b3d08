/**
 * The sweep (the Cron Trigger every minute; `npm start` fires it locally): starts due runs that no
 * message started (a lost message, a restart, a run that waited for a slot), queues the start message of
 * runs scheduled further ahead than a message can wait once they come near, queues again the runs in
 * progress and the deliveries whose message was lost, and fails a run that keeps losing its message.
 * It reads no user data and a bounded number of rows (partial indexes of unfinished work).
 */
import { getDb } from "../db/client";
import { findStalledDeliveries } from "../deliveries/transitions";
import { getConfig, type Env, type JobMessage } from "../env";
import { dispatch, MESSAGE_REACH_MS, sendStartMessages } from "../runs/dispatch";
import { failRuns } from "../runs/finish";
import { findOverdueRuns, findUnqueuedRuns, markQueued, markRecovered } from "../runs/transitions";
import { rollupPass } from "../stats/rollup";

/** How long past its expected time a run (or a delivery past its next attempt) may go quiet before the sweep acts. */
export const DEFAULT_SWEEP_GRACE_SECONDS = 60;
/** Re-queued this many times without finishing, a run is failed. */
export const MAX_RECOVERIES = 3;
/** Most rows one sweep handles of each kind; the next sweep takes the rest. */
const SWEEP_BATCH = 100;
/** Runs due within this long get their start message from the sweep (the next sweeps come well before). */
const LOOKAHEAD_MS = 10 * 60 * 1000;

export interface SweepReport {
  startedRuns: number;
  queuedStarts: number;
  requeuedRuns: number;
  failedRuns: number;
  requeuedDeliveries: number;
}

export async function sweep(env: Env, now: Date): Promise<SweepReport> {
  const db = getDb(env.DB);
  const { jobDurationSeconds, sweepGraceSeconds, webhookUrl } = getConfig(env);
  const before = new Date(now.getTime() - sweepGraceSeconds * 1000);
  const report: SweepReport = { startedRuns: 0, queuedStarts: 0, requeuedRuns: 0, failedRuns: 0, requeuedDeliveries: 0 };
  const messages: JobMessage[] = [];

  // Runs scheduled beyond a message's reach, now coming near: their start message.
  const soon = await findUnqueuedRuns(db, now, Math.min(LOOKAHEAD_MS, MESSAGE_REACH_MS), SWEEP_BATCH);
  if (soon.length > 0) {
    await markQueued(db, soon.map((run) => run.id));
    await sendStartMessages(env, soon.map((run) => ({ ...run, expectedAt: run.dueAt })), now);
    report.queuedStarts += soon.length;
  }

  for (const run of await findOverdueRuns(db, before, SWEEP_BATCH)) {
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
  // Due runs (after the overdue ones were failed: their slots are free), in their place in line.
  report.startedRuns += (await dispatch(env, now)).started.length;

  for (const stalled of await findStalledDeliveries(db, before, SWEEP_BATCH)) {
    report.requeuedDeliveries += 1;
    messages.push({ jobId: stalled.jobId, run: stalled.number });
  }
  // Extra copies are harmless (every step is conditional), so a message that also arrives late costs nothing.
  for (let i = 0; i < messages.length; i += 100) {
    await env.JOB_QUEUE.sendBatch(messages.slice(i, i + 100).map((body) => ({ body })));
  }
  await rollupPass(env, now); // the overview's hours that are over (stats/rollup.ts)
  return report;
}
