/**
 * Attempts of a delivery: claim the next attempt (a lease), sign and POST the delivery's stored body,
 * log the attempt and settle the delivery's state in one D1 batch, then tell the queue when to come back.
 */
import { getDb, type Db } from "../db/client";
import type { DeliveryWithBody } from "./body";
import { type AttemptOutcome, claimAttempt, leaseUntilOf, settleAttempts, type SettledAttempt } from "./deliveries";
import { getConfig, type Config, type Env } from "../env";
import { logEvent } from "../lib/log";
import { retryDelaySeconds } from "../background/backoff";
import { ack, type MessageOutcome, retryIn } from "../background/outcome";
import { unsafeWebhookTarget } from "../security/webhook-target";
import { insertLogs, type NewWebhookLog } from "./log";
import { sendWebhook, type AttemptResult } from "./sender";
import { signatureHeader } from "./signing";

/** Extra time a lease lasts beyond the attempt's own timeout. */
const LEASE_MARGIN_MS = 5_000;

const secondsUntil = (when: Date, now: Date) => (when.getTime() - now.getTime()) / 1000;

/** Works on a delivery as its state says: wait for a retry or a lease, make the next attempt, or nothing. */
export async function deliverWebhook(env: Env, delivery: DeliveryWithBody, now = new Date()): Promise<MessageOutcome> {
  const config = getConfig(env);
  const due = delivery.nextAttemptAt;
  switch (delivery.state) {
    case "DELIVERED":
    case "FAILED":
      return ack;
    case "RETRYING":
      // A copy that arrives before the retry is due (or a hop of a wait longer than 12 h) waits again.
      if (due && due > now) return retryIn(secondsUntil(due, now));
      break;
    case "SENDING": {
      // Another copy holds the lease; look again when it has run out.
      const lease = leaseUntilOf(delivery);
      if (lease && lease >= now) return retryIn(secondsUntil(lease, now) + 1);
      break;
    }
  }
  const claimed = await claimAttempt(getDb(env.DB), delivery, now, deliveryLeaseUntil(env, now), config.webhookUrl);
  // Lost the race to another copy of this message: check back once its attempt is over.
  if (!claimed) return retryIn((config.webhookTimeoutMs + LEASE_MARGIN_MS) / 1000);
  return sendClaimedAttempt(env, claimed);
}

/** How long a claimed attempt holds its lease: its timeout plus a margin. */
export const deliveryLeaseUntil = (env: Env, now: Date) => new Date(now.getTime() + getConfig(env).webhookTimeoutMs + LEASE_MARGIN_MS);

/** Sends the attempt `claimed` holds the lease for, then logs it and settles the delivery. */
export async function sendClaimedAttempt(env: Env, claimed: DeliveryWithBody): Promise<MessageOutcome> {
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
  return [settleAttempts(db, attempts.map((a) => a.settled)), ...insertLogs(db, attempts.map((a) => a.log))] as const;
}

/** Sends the claimed attempt and plans its writes without running them (the consumer groups a batch's). */
export async function attemptClaimed(env: Env, claimed: DeliveryWithBody): Promise<PlannedAttempt> {
  const config = getConfig(env);
  const db = getDb(env.DB);
  const attempt = claimed.attempts;
  const result = await attemptDelivery(config, claimed);

  const delaySeconds = nextDelaySeconds(config, result, attempt);
  const finishedAt = Date.now();
  const nextRetryAt = delaySeconds === null ? null : new Date(finishedAt + delaySeconds * 1000);
  const outcome: AttemptOutcome = {
    state: result.ok ? "DELIVERED" : delaySeconds !== null ? "RETRYING" : "FAILED",
    nextAttemptAt: nextRetryAt,
    lastError: result.error,
    deliveredAt: result.ok ? new Date(finishedAt) : null,
  };
  const planned = {
    log: {
      jobId: claimed.jobId,
      runId: claimed.runId,
      // The delivery keeps the webhook-id every attempt sends: the log reads it from there.
      deliveryId: null,
      series: claimed.series,
      attempt,
      url: claimed.url ?? "",
      // The delivery keeps the bytes every attempt sends: the log reads them from there.
      requestBody: null,
      responseStatus: result.responseStatus,
      responseBody: result.responseBody,
      error: result.error,
      durationMs: result.durationMs,
      sentAt: new Date(finishedAt - result.durationMs),
      nextRetryAt,
    },
    settled: { delivery: claimed, outcome },
  };
  logEvent("delivery.attempt", {
    jobId: claimed.jobId,
    runId: claimed.runId,
    deliveryId: claimed.webhookId,
    series: claimed.series,
    attempt,
    outcome: outcome.state,
    responseStatus: result.responseStatus,
    durationMs: result.durationMs,
    error: result.error,
    nextRetryAt: nextRetryAt?.toISOString() ?? null,
  });
  return { ...planned, writes: () => db.batch(attemptWrites(db, [planned])), outcome: delaySeconds === null ? ack : retryIn(delaySeconds) };
}

const refused = (error: string): AttemptResult => ({ ok: false, responseStatus: null, responseBody: null, error, durationMs: 0, stop: true, retryAfterSeconds: null });

async function attemptDelivery(config: Config, delivery: DeliveryWithBody): Promise<AttemptResult> {
  if (!delivery.url) return refused("WEBHOOK_URL is not configured");
  // Checked again at send time: a target is never trusted blindly, even one frozen in the delivery.
  const unsafe = unsafeWebhookTarget(delivery.url, config.allowLocalWebhooks);
  if (unsafe) return refused(`unsafe webhook target: ${unsafe}`);
  const timestamp = Math.floor(Date.now() / 1000); // per attempt: receivers reject stale timestamps
  const headers: Record<string, string> = {
    "webhook-id": delivery.webhookId,
    "webhook-timestamp": String(timestamp),
    "webhook-attempt": String(delivery.attempts),
  };
  if (config.signingSecrets.length > 0) {
    headers["webhook-signature"] = await signatureHeader(config.signingSecrets, delivery.webhookId, timestamp, delivery.body);
  }
  return sendWebhook(delivery.url, delivery.body, { timeoutMs: config.webhookTimeoutMs, headers });
}

/** null: no more attempts (success, 410 Gone, no URL, or the series is used up). */
function nextDelaySeconds(config: Config, result: AttemptResult, attempt: number): number | null {
  if (result.ok || result.stop || attempt >= config.webhookMaxAttempts) return null;
  return result.retryAfterSeconds ?? retryDelaySeconds(attempt, config.retryScheduleSeconds, config.retryJitter);
}
