/**
 * Delivery of a finished run's webhook: claim the next attempt (a lease), sign and POST, log the
 * attempt and settle the job's delivery state in one D1 batch, then tell the queue when to come back.
 */
import { getDb, type Db } from "../db/client";
import type { Job } from "../db/schema";
import { getConfig, type Config, type Env } from "../env";
import { claimDeliveryAttempt, settleDeliveryAttempts, type DeliveryOutcome, type SettledAttempt } from "../jobs/transitions";
import { retryDelaySeconds } from "../queue/backoff";
import { ack, retryIn, type MessageOutcome } from "../queue/outcome";
import { deliveryIdOf, webhookBodyOf } from "./body";
import { insertLogs, type NewWebhookLog } from "./repository";
import { sendWebhook, type AttemptResult } from "./sender";
import { unsafeWebhookTarget } from "../security/webhook-target";
import { signatureHeader } from "./signing";

/** Extra time a lease lasts beyond the attempt's own timeout. */
const LEASE_MARGIN_MS = 5_000;

const secondsUntil = (when: Date, now: Date) => (when.getTime() - now.getTime()) / 1000;

export async function deliverWebhook(env: Env, job: Job, now = new Date()): Promise<MessageOutcome> {
  const config = getConfig(env);
  const db = getDb(env.DB);

  switch (job.deliveryStatus) {
    case "DELIVERED":
    case "FAILED":
    case "NONE":
      return ack;
    case "RETRYING":
      // A copy that arrives before the retry is due (or a hop of a wait longer than 12 h) waits again.
      if (job.nextDeliveryAt && job.nextDeliveryAt > now) return retryIn(secondsUntil(job.nextDeliveryAt, now));
      break;
    case "SENDING":
      // Another copy holds the lease; look again when it has run out.
      if (job.deliveryLeaseUntil && job.deliveryLeaseUntil >= now) return retryIn(secondsUntil(job.deliveryLeaseUntil, now) + 1);
      break;
  }

  const claimed = await claimDeliveryAttempt(db, job, now, deliveryLeaseUntil(env, now));
  // Lost the race to another copy of this message: check back once its attempt is over.
  if (!claimed) return retryIn((config.webhookTimeoutMs + LEASE_MARGIN_MS) / 1000);
  return sendClaimedAttempt(env, claimed);
}

/** How long a claimed attempt holds its lease: its timeout plus a margin. */
export const deliveryLeaseUntil = (env: Env, now: Date) => new Date(now.getTime() + getConfig(env).webhookTimeoutMs + LEASE_MARGIN_MS);

/** Sends the attempt `claimed` holds the lease for, then logs it and settles the delivery state. */
export async function sendClaimedAttempt(env: Env, claimed: Job): Promise<MessageOutcome> {
  const { writes, outcome } = await attemptClaimed(env, claimed);
  await writes();
  return outcome;
}

export interface PlannedAttempt {
  /** The attempt's log row and delivery state, not yet written (the consumer groups a batch's). */
  log: NewWebhookLog;
  settled: SettledAttempt;
  writes: () => Promise<unknown>;
  outcome: MessageOutcome;
}

/** The writes of many attempts as one delivery-state update and one log insert, for one db.batch(). */
export function attemptWrites(db: Db, attempts: Pick<PlannedAttempt, "log" | "settled">[]) {
  return [settleDeliveryAttempts(db, attempts.map((a) => a.settled)), ...insertLogs(db, attempts.map((a) => a.log))] as const;
}

/** Sends the claimed attempt and plans its writes without running them (the consumer groups a batch's). */
export async function attemptClaimed(env: Env, claimed: Job): Promise<PlannedAttempt> {
  const config = getConfig(env);
  const db = getDb(env.DB);
  const attempt = claimed.deliveryAttempts;
  const requestBody = webhookBodyOf(claimed);
  const result = await attemptDelivery(config, claimed, JSON.stringify(requestBody), attempt);

  const delaySeconds = nextDelaySeconds(config, result, attempt);
  const finishedAt = Date.now();
  const nextRetryAt = delaySeconds === null ? null : new Date(finishedAt + delaySeconds * 1000);
  const outcome: DeliveryOutcome = {
    deliveryStatus: result.ok ? "DELIVERED" : delaySeconds !== null ? "RETRYING" : "FAILED",
    nextDeliveryAt: nextRetryAt,
    lastDeliveryError: result.error,
  };
  const planned = {
    log: {
      jobId: claimed.id,
      runId: claimed.runId,
      deliveryId: deliveryIdOf(claimed),
      series: claimed.deliverySeries,
      attempt,
      url: config.webhookUrl ?? "",
      requestBody,
      responseStatus: result.responseStatus,
      responseBody: result.responseBody,
      error: result.error,
      durationMs: result.durationMs,
      sentAt: new Date(finishedAt - result.durationMs),
      nextRetryAt,
    },
    settled: { job: claimed, attempt, outcome },
  };
  return { ...planned, writes: () => db.batch(attemptWrites(db, [planned])), outcome: delaySeconds === null ? ack : retryIn(delaySeconds) };
}

async function attemptDelivery(config: Config, job: Job, body: string, attempt: number): Promise<AttemptResult> {
  if (!config.webhookUrl) {
    return { ok: false, responseStatus: null, responseBody: null, error: "WEBHOOK_URL is not configured", durationMs: 0, stop: true, retryAfterSeconds: null };
  }
  // Checked again at send time: the configuration was checked when read, but a target is never trusted blindly.
  const unsafe = unsafeWebhookTarget(config.webhookUrl, config.allowLocalWebhooks);
  if (unsafe) {
    return { ok: false, responseStatus: null, responseBody: null, error: `unsafe webhook target: ${unsafe}`, durationMs: 0, stop: true, retryAfterSeconds: null };
  }
  const webhookId = deliveryIdOf(job);
  const timestamp = Math.floor(Date.now() / 1000); // per attempt: receivers reject stale timestamps
  const headers: Record<string, string> = {
    "webhook-id": webhookId,
    "webhook-timestamp": String(timestamp),
    "webhook-attempt": String(attempt),
  };
  if (config.signingSecrets.length > 0) {
    headers["webhook-signature"] = await signatureHeader(config.signingSecrets, webhookId, timestamp, body);
  }
  return sendWebhook(config.webhookUrl, body, { timeoutMs: config.webhookTimeoutMs, headers });
}

/** null: no more attempts (success, 410 Gone, no URL, or the series is used up). */
function nextDelaySeconds(config: Config, result: AttemptResult, attempt: number): number | null {
  if (result.ok || result.stop || attempt >= config.webhookMaxAttempts) return null;
  return result.retryAfterSeconds ?? retryDelaySeconds(attempt, config.retryScheduleSeconds, config.retryJitter);
}
