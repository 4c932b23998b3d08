/**
 * The background side of the lifecycle: the run message after the job's duration, the dead-letter
 * queue when the queue gives up on a message, and the sweep that recovers runs and deliveries whose
 * message was lost. Each step is a conditional update, so repeating one changes nothing.
 */
import { getDb } from "../db/client";
import type { Job } from "../db/schema";
import { getConfig, type Env, type JobMessage } from "../env";
import { ack, type MessageOutcome } from "../queue/outcome";
import { attemptClaimed, attemptWrites, deliverWebhook, deliveryLeaseUntil, sendClaimedAttempt } from "../webhooks/delivery";
import * as repo from "./repository";
import * as transitions from "./transitions";

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
  const now = new Date();
  // The common case first: the run is due and still current. Conditional on run id and status, so a
  // duplicate of this message completes nothing a second time; it also claims delivery attempt 1.
  const completed = await transitions.completeRun(db, message.jobId, message.runId, now, deliveryLeaseUntil(env, now));
  if (completed) return sendClaimedAttempt(env, completed);
  return continueRun(env, message);
}

/** A message whose run was not completed by it: a retry, a duplicate, a redelivery, or a stale run. */
async function continueRun(env: Env, message: JobMessage): Promise<MessageOutcome> {
  const job = await repo.findJob(getDb(env.DB), message.jobId);
  if (!job || job.runId !== message.runId) return ack;
  if (job.status !== "COMPLETED" && job.status !== "FAILED") return ack;
  return deliverWebhook(env, job);
}

/** Sends the attempt this batch claimed for the run (same lease), or handles the message afresh. */
async function resumeClaim(env: Env, message: JobMessage, lease: Date): Promise<MessageOutcome> {
  const job = await repo.findJob(getDb(env.DB), message.jobId);
  const ours =
    job?.runId === message.runId && job.deliveryStatus === "SENDING" && job.deliveryAttempts === 1 && job.deliveryLeaseUntil?.getTime() === lease.getTime();
  return ours ? sendClaimedAttempt(env, job) : processRunMessage(env, message);
}

/** The outcome of each message of a batch, or the error that its handling threw. */
export type BatchResult = MessageOutcome | Error;

const settled = (work: Promise<MessageOutcome>): Promise<BatchResult> => work.catch((err) => (err instanceof Error ? err : new Error(String(err))));

/**
 * A batch of run messages with its D1 work grouped: one round trip completes every due run (and
 * claims its first attempt), the webhooks go out concurrently, one round trip writes every log row
 * and delivery state. Whatever does not fit the common path, or fails as a group, is handled one
 * message at a time, so one bad message never holds back the others.
 */
export async function processRunBatch(env: Env, messages: JobMessage[]): Promise<BatchResult[]> {
  const db = getDb(env.DB);
  const now = new Date();
  const lease = deliveryLeaseUntil(env, now);
  let completed: (Job | undefined)[];
  try {
    completed = await transitions.completeRuns(db, messages, now, lease);
  } catch {
    // The batch's updates commit together; what can fail is reading a row back (an unreadable row)
    // or the whole round trip. Each message then looks at its own row again.
    return Promise.all(messages.map((m) => settled(resumeClaim(env, m, lease))));
  }
  const planned = await Promise.all(
    messages.map(async (message, i) => {
      const job = completed[i];
      if (!job) return { result: settled(continueRun(env, message)) };
      try {
        return { plan: await attemptClaimed(env, job) };
      } catch (err) {
        return { result: settled(Promise.reject(err)) };
      }
    }),
  );
  const plans = planned.flatMap((p) => (p.plan ? [p.plan] : []));
  let grouped = plans.length === 0;
  if (!grouped) {
    try {
      await db.batch(attemptWrites(db, plans));
      grouped = true;
    } catch {
      // fall through: write message by message
    }
  }
  return Promise.all(
    planned.map(async ({ plan, result }) => {
      if (!plan) return result!;
      if (grouped) return plan.outcome;
      return settled(plan.writes().then(() => plan.outcome));
    }),
  );
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
    const failed = await transitions.failRun(db, job.id, job.runId, `execution could not be completed: ${DEAD_LETTER_REASON}`, new Date());
    if (failed) await env.JOB_QUEUE.send(message);
    return;
  }
  await transitions.giveUpDelivery(db, job.id, job.runId, `delivery stopped: ${DEAD_LETTER_REASON}`);
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

  for (const job of await transitions.findOverdueRuns(db, before, SWEEP_BATCH)) {
    if (job.recoveries >= MAX_RECOVERIES) {
      const reason = `execution could not be completed: no progress after ${MAX_RECOVERIES} recoveries`;
      if (await transitions.failRun(db, job.id, job.runId, reason, now)) {
        report.failedRuns += 1;
        messages.push(messageOf(job)); // its job.failed webhook
      }
    } else if (await transitions.markRecovered(db, job, now, new Date(now.getTime() + jobDurationSeconds * 1000))) {
      report.requeuedRuns += 1;
      messages.push(messageOf(job));
    }
  }
  for (const stalled of await transitions.findStalledDeliveries(db, before, SWEEP_BATCH)) {
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
