/**
 * The background side of the lifecycle: the run message after the job's duration, the dead-letter
 * queue when the queue gives up on a message, and the sweep that recovers runs and deliveries whose
 * message was lost. Each step is a conditional update, so repeating one changes nothing.
 */
import { getDb } from "../db/client";
import type { Job } from "../db/schema";
import { getConfig, type Env, type JobMessage } from "../env";
import { ack, type MessageOutcome } from "../queue/outcome";
import { deliverWebhook } from "../webhooks/delivery";
import * as repo from "./repository";

/** How long past its due time a run (or a delivery past its next attempt) may go quiet before the sweep acts. */
export const STUCK_GRACE_SECONDS = 60;
/** Re-queued this many times without finishing, a run is failed. */
export const MAX_RECOVERIES = 3;
/** Most rows one sweep handles; the next sweep takes the rest. */
const SWEEP_BATCH = 100;

/**
 * A run's message: completes the run if it is still current, then works on its webhook
 * (job.completed or job.failed). Messages for deleted jobs or superseded runs are acknowledged.
 */
export async function processRunMessage(env: Env, message: JobMessage): Promise<MessageOutcome> {
  const db = getDb(env.DB);
  let job = await repo.findJob(db, message.jobId);
  if (!job || job.runId !== message.runId) return ack;
  if (job.status === "IN_PROGRESS") {
    // Conditional on run id and status: a duplicate of this message completes nothing a second time.
    job = (await repo.completeRun(db, job.id, job.runId, new Date())) ?? (await repo.findJob(db, message.jobId));
    if (!job || job.runId !== message.runId) return ack;
  }
  if (job.status !== "COMPLETED" && job.status !== "FAILED") return ack;
  return deliverWebhook(env, job);
}

const DEAD_LETTER_REASON = "the queue gave up on this message after repeated failures";

/**
 * A message the queue gave up on: nothing disappears silently. A run that never completed becomes
 * FAILED (and its job.failed webhook is queued); a delivery still under way becomes a failed delivery.
 */
export async function handleDeadLetter(env: Env, message: JobMessage): Promise<void> {
  const db = getDb(env.DB);
  const job = await repo.findRunState(db, message.jobId);
  if (!job || job.runId !== message.runId) return;
  if (job.status === "IN_PROGRESS") {
    const failed = await repo.failRun(db, job.id, job.runId, `execution could not be completed: ${DEAD_LETTER_REASON}`, new Date());
    if (failed) await env.JOB_QUEUE.send(message);
    return;
  }
  await repo.giveUpDelivery(db, job.id, job.runId, `delivery stopped: ${DEAD_LETTER_REASON}`);
}

export interface SweepReport {
  requeuedRuns: number;
  failedRuns: number;
  requeuedDeliveries: number;
}

/** The Cron Trigger's work: find what went quiet and queue it again, or fail it with the reason. */
export async function sweep(env: Env, now: Date): Promise<SweepReport> {
  const db = getDb(env.DB);
  const { jobDurationSeconds } = getConfig(env);
  const before = new Date(now.getTime() - STUCK_GRACE_SECONDS * 1000);
  const report: SweepReport = { requeuedRuns: 0, failedRuns: 0, requeuedDeliveries: 0 };
  const messages: JobMessage[] = [];

  for (const job of await repo.findOverdueRuns(db, before, SWEEP_BATCH)) {
    if (job.recoveries >= MAX_RECOVERIES) {
      const reason = `execution could not be completed: no progress after ${MAX_RECOVERIES} recoveries`;
      if (await repo.failRun(db, job.id, job.runId, reason, now)) {
        report.failedRuns += 1;
        messages.push(messageOf(job)); // its job.failed webhook
      }
    } else if (await repo.markRecovered(db, job, now, new Date(now.getTime() + jobDurationSeconds * 1000))) {
      report.requeuedRuns += 1;
      messages.push(messageOf(job));
    }
  }
  for (const stalled of await repo.findStalledDeliveries(db, before, SWEEP_BATCH)) {
    report.requeuedDeliveries += 1;
    messages.push({ jobId: stalled.id, runId: stalled.runId });
  }
  // Extra copies are harmless (every step is conditional), so a message that also arrives late costs nothing.
  for (let i = 0; i < messages.length; i += 100) {
    await env.JOB_QUEUE.sendBatch(messages.slice(i, i + 100).map((body) => ({ body })));
  }
  return report;
}

const messageOf = (job: Pick<Job, "id" | "runId">): JobMessage => ({ jobId: job.id, runId: job.runId });
