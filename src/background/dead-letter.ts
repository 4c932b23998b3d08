/**
 * Messages the queue gave up on (after max_retries): nothing disappears silently. A run that never
 * completed becomes FAILED and its job.failed webhook is queued; a delivery still under way fails.
 */
import { getDb } from "../db/client";
import type { RunRef } from "../webhooks/body";
import { giveUpDelivery } from "../webhooks/deliveries";
import { getConfig, type Env, type JobMessage } from "../env";
import { logFailure } from "../lib/log";
import { dispatchInBackground } from "../runs/dispatch";
import { failRuns } from "../runs/lifecycle";
import * as runsRepo from "../runs/repository";

const DEAD_LETTER_REASON = "the queue gave up on this message after repeated failures";

export async function handleDeadLetter(env: Env, ref: RunRef): Promise<void> {
  const db = getDb(env.DB);
  // Read without user data: a row that cannot be parsed must not stop this.
  const run = await runsRepo.findRunState(db, ref);
  if (!run) return;
  if (run.status === "IN_PROGRESS") {
    const reason = `execution could not be completed: ${DEAD_LETTER_REASON}`;
    if (await failRuns(db, [ref], reason, new Date(), getConfig(env).webhookUrl)) {
      // The run is failed and its job.failed delivery is PENDING in D1. If this message cannot be queued,
      // the sweep sends it; throwing would bring this dead letter back to give that new delivery up.
      await env.JOB_QUEUE.send({ jobId: ref.jobId, run: ref.number } satisfies JobMessage).catch((err: unknown) =>
        logFailure("queue.send_failed", { jobId: ref.jobId, run: ref.number, what: "job.failed webhook; the sweep sends it" }, err),
      );
      // Its slot is free: a run waiting for one starts now (else the next sweep starts it).
      if (getConfig(env).maxConcurrentRuns > 0) await dispatchInBackground(env, undefined, { jobId: ref.jobId, run: ref.number, after: "dead letter" });
    }
    return;
  }
  // Only a delivery that was attempted in its current series: a new one (a run just failed, a
  // redelivery by hand) was never this message's to give up, and the sweep keeps it moving.
  if ((run.deliveryState === "PENDING" || run.deliveryState === "SENDING" || run.deliveryState === "RETRYING") && (run.deliveryAttempts ?? 0) > 0) {
    await giveUpDelivery(db, run.id, `delivery stopped: ${DEAD_LETTER_REASON}`);
  }
}
