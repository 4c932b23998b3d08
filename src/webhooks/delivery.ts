/**
 * Delivery of a completed run's webhook: claim the next attempt, POST, log the attempt and settle the
 * job's delivery state in one batch, and ask the queue to retry the message after a backoff.
 */
import { getDb } from "../db/client";
import type { Job } from "../db/schema";
import { getConfig, type Env } from "../env";
import { claimDeliveryAttempt, settleDeliveryAttempt, type DeliveryOutcome } from "../jobs/repository";
import { backoffSeconds } from "../queue/backoff";
import { ack, retryIn, type MessageOutcome } from "../queue/outcome";
import { webhookBodyOf, deliveryIdOf } from "./body";
import { insertLog } from "./repository";
import { sendWebhook, type AttemptResult } from "./sender";

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
      // A copy of the message that arrives before the retry is due waits for it.
      if (job.nextDeliveryAt && job.nextDeliveryAt > now) return retryIn(secondsUntil(job.nextDeliveryAt, now));
      break;
    case "SENDING":
      // Another copy holds the lease; look again when it has run out.
      if (job.deliveryLeaseUntil && job.deliveryLeaseUntil >= now) {
        return retryIn(secondsUntil(job.deliveryLeaseUntil, now) + 1);
      }
      break;
  }

  const leaseUntil = new Date(now.getTime() + config.webhookTimeoutMs + LEASE_MARGIN_MS);
  const claimed = await claimDeliveryAttempt(db, job, now, leaseUntil);
  // Lost the race to another copy of this message: check back once its attempt is over.
  if (!claimed) return retryIn((config.webhookTimeoutMs + LEASE_MARGIN_MS) / 1000);

  const attempt = claimed.deliveryAttempts;
  const requestBody = webhookBodyOf(claimed);
  const result: AttemptResult = config.webhookUrl
    ? await sendWebhook(config.webhookUrl, requestBody, {
        timeoutMs: config.webhookTimeoutMs,
        headers: { "webhook-id": deliveryIdOf(claimed), "webhook-attempt": String(attempt) },
      })
    : { ok: false, responseStatus: null, responseBody: null, error: "WEBHOOK_URL is not configured", durationMs: 0 };

  const canRetry = !result.ok && config.webhookUrl !== null && attempt < config.webhookMaxAttempts;
  const delaySeconds = canRetry ? backoffSeconds(attempt, config.webhookBackoffBaseSeconds) : null;
  const sentAt = new Date(Date.now() - result.durationMs);
  const nextRetryAt = delaySeconds === null ? null : new Date(Date.now() + delaySeconds * 1000);
  const outcome: DeliveryOutcome = {
    deliveryStatus: result.ok ? "DELIVERED" : canRetry ? "RETRYING" : "FAILED",
    nextDeliveryAt: nextRetryAt,
    lastDeliveryError: result.error,
  };

  await db.batch([
    insertLog(db, {
      jobId: claimed.id,
      runId: claimed.runId,
      deliveryId: deliveryIdOf(claimed),
      attempt,
      url: config.webhookUrl ?? "",
      requestBody,
      responseStatus: result.responseStatus,
      responseBody: result.responseBody,
      error: result.error,
      durationMs: result.durationMs,
      sentAt,
      nextRetryAt,
    }),
    settleDeliveryAttempt(db, claimed, attempt, outcome),
  ]);

  return delaySeconds === null ? ack : retryIn(delaySeconds);
}
