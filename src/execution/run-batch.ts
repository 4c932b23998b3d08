/**
 * A batch of run messages, each "work on run n of job j": the run is completed if it is still in
 * progress, then its webhook is sent (job.completed or job.failed). Messages for deleted jobs, unknown
 * runs or finished deliveries are acknowledged. Every step is conditional, so repeating one changes nothing.
 */
import { getDb } from "../db/client";
import type { Delivery } from "../db/schema";
import { webhookIdOf, type RunRef } from "../deliveries/body";
import { getConfig, type Env } from "../env";
import { ack, type MessageOutcome } from "../queue/outcome";
import { finishStatements } from "../runs/finish";
import * as runsRepo from "../runs/repository";
import { attemptClaimed, attemptWrites, deliverWebhook, deliveryLeaseUntil, sendClaimedAttempt } from "../webhooks/delivery";

/** The outcome of each message of a batch, or the error that its handling threw. */
export type BatchResult = MessageOutcome | Error;

const settled = (work: Promise<MessageOutcome>): Promise<BatchResult> => work.catch((err) => (err instanceof Error ? err : new Error(String(err))));

/** Completes the runs (those still in progress) and claims attempt 1 of each new delivery; returns the claimed deliveries. */
async function completeRuns(env: Env, refs: RunRef[], now: Date, lease: Date): Promise<Delivery[]> {
  const db = getDb(env.DB);
  const [, created] = await db.batch(finishStatements(db, refs, { status: "COMPLETED" }, now, { url: getConfig(env).webhookUrl, claimedUntil: lease }));
  return created;
}

/** One message on its own: complete its run if due and send attempt 1, or carry on with its delivery. */
export async function processRunMessage(env: Env, ref: RunRef): Promise<MessageOutcome> {
  const now = new Date();
  const [claimed] = await completeRuns(env, [ref], now, deliveryLeaseUntil(env, now));
  return claimed ? sendClaimedAttempt(env, claimed) : continueRun(env, ref);
}

/** A message whose run was not completed by it: a retry, a duplicate, a redelivery, a failed run, or a stale one. */
async function continueRun(env: Env, ref: RunRef): Promise<MessageOutcome> {
  const found = await runsRepo.findRunByRef(getDb(env.DB), ref);
  if (!found?.delivery) return ack;
  return deliverWebhook(env, found.delivery);
}

/** Sends the attempt this batch claimed for the run (same lease), or handles the message afresh. */
async function resumeClaim(env: Env, ref: RunRef, lease: Date): Promise<MessageOutcome> {
  const delivery = (await runsRepo.findRunByRef(getDb(env.DB), ref))?.delivery;
  const ours = delivery?.state === "SENDING" && delivery.series === 1 && delivery.attempts === 1 && delivery.nextAttemptAt?.getTime() === lease.getTime();
  return ours ? sendClaimedAttempt(env, delivery) : processRunMessage(env, ref);
}

/**
 * A batch with its D1 work grouped: one round trip completes every due run and claims attempt 1 of
 * its webhook, the webhooks go out concurrently, one round trip writes every log row and delivery
 * state. Whatever does not fit the common path, or fails as a group, is handled one message at a time,
 * so one bad message never holds back the others.
 */
export async function processRunBatch(env: Env, refs: RunRef[]): Promise<BatchResult[]> {
  const db = getDb(env.DB);
  const now = new Date();
  const lease = deliveryLeaseUntil(env, now);
  let claimed: Delivery[];
  try {
    claimed = await completeRuns(env, refs, now, lease);
  } catch {
    // The batch commits or not as a whole; a failure after it committed (the answer was lost) is
    // recognised by the lease this batch took. Each message looks at its own run again; a second copy
    // of the same run only looks (it finds the lease of the first, and waits).
    const resumed = new Set<string>();
    return Promise.all(
      refs.map((ref) => {
        const first = !resumed.has(webhookIdOf(ref));
        resumed.add(webhookIdOf(ref));
        return settled(first ? resumeClaim(env, ref, lease) : continueRun(env, ref));
      }),
    );
  }
  // A run named twice (two copies of its message in one batch) is sent for its first copy only.
  const byWebhookId = new Map(claimed.map((delivery) => [delivery.webhookId, delivery]));
  const planned = await Promise.all(
    refs.map(async (ref) => {
      const delivery = byWebhookId.get(webhookIdOf(ref));
      byWebhookId.delete(webhookIdOf(ref));
      if (!delivery) return { result: settled(continueRun(env, ref)) };
      try {
        return { plan: await attemptClaimed(env, delivery) };
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
