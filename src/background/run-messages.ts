/**
 * A batch of run messages, each "work on run n of job j": a SCHEDULED run due now is started by the
 * dispatcher; a run in progress is completed, then its webhook is sent (job.completed, job.failed or
 * job.cancelled). Messages for deleted jobs, unknown runs or finished deliveries are acknowledged.
 * Every step is conditional, so repeating one changes nothing.
 */
import { getDb } from "../db/client";
import type { Run } from "../db/schema";
import { type DeliveryWithBody, type RunRef, webhookIdOf } from "../webhooks/body";
import { leaseUntilOf } from "../webhooks/deliveries";
import { getConfig, type Env } from "../env";
import { logFailure } from "../lib/log";
import { ack, type MessageOutcome, retryIn } from "./outcome";
import { dispatch, type Dispatched } from "../runs/dispatch";
import { finishStatements, logFinished } from "../runs/lifecycle";
import * as runsRepo from "../runs/repository";
import type { RunState, RunStateWithDelivery } from "../runs/repository";
import { attemptClaimed, attemptWrites, deliverWebhook, deliveryLeaseUntil, sendClaimedAttempt } from "../webhooks/attempts";

/** The outcome of each message of a batch, or the error that its handling threw. */
export type BatchResult = MessageOutcome | Error;

const settled = (work: Promise<MessageOutcome>): Promise<BatchResult> => work.catch((err) => (err instanceof Error ? err : new Error(String(err))));

/**
 * Completes the runs (those still in progress) and claims attempt 1 of each new delivery; returns the
 * claimed deliveries, and whether a due run waits (for a slot these completions may have freed).
 */
async function completeRuns(env: Env, refs: RunRef[], now: Date, lease: Date): Promise<{ claimed: DeliveryWithBody[]; runsWaiting: boolean }> {
  const db = getDb(env.DB);
  const [, created, , , waiting] = await db.batch([
    ...finishStatements(db, refs, { status: "COMPLETED", durationMs: getConfig(env).jobDurationSeconds * 1000 }, now, { url: getConfig(env).webhookUrl, claimedUntil: lease }),
    runsRepo.anyDueRun(db, now),
  ]);
  logFinished("run.completed", created);
  return { claimed: created, runsWaiting: waiting.length > 0 };
}

/**
 * One dispatch at a time per batch, however many of its messages ask for one: a message is served by a
 * dispatch that started at or after its run's due time (`dueBy`); else it joins the one queued to start
 * when the running one ends (every message asks only once its run is due, so that one serves them all).
 */
type DispatchOnce = (dueBy?: Date) => Promise<Dispatched>;

const dispatcherFor = (env: Env): DispatchOnce => {
  let latest: { at: number; done: Promise<Dispatched> } | undefined;
  let queued: Promise<Dispatched> | undefined;
  const start = () => {
    const now = new Date();
    latest = { at: now.getTime(), done: dispatch(env, now) };
    return latest.done;
  };
  return (dueBy = new Date(0)) => {
    if (!latest) return start();
    if (latest.at >= dueBy.getTime()) return latest.done;
    queued ??= latest.done
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return start();
      });
    return queued;
  };
};

/**
 * One message on its own: complete its run if it has lasted its duration and send attempt 1, or carry
 * on with it. `waited`: this message already waited here for its run's end (it waits once).
 */
export async function processRunMessage(env: Env, ref: RunRef, dispatchOnce = dispatcherFor(env), waited = false): Promise<MessageOutcome> {
  const now = new Date();
  const {
    claimed: [claimed],
  } = await completeRuns(env, [ref], now, deliveryLeaseUntil(env, now));
  return claimed ? sendClaimedAttempt(env, claimed) : continueRun(env, ref, dispatchOnce, undefined, waited);
}

/**
 * A message whose run was not completed by it: a start, a run that has not lasted its duration yet, a
 * retry, a duplicate, a redelivery, a failed run, or a stale one. `read`: its run as the batch read it
 * (null: none), else it is read here.
 */
async function continueRun(env: Env, ref: RunRef, dispatchOnce: DispatchOnce, read?: RunStateWithDelivery | null, waited = false): Promise<MessageOutcome> {
  const found = read === undefined ? await runsRepo.findRunByRef(getDb(env.DB), ref) : read;
  if (found?.run.status === "SCHEDULED") return startScheduled(found.run.dueAt, dispatchOnce);
  if (found?.run.status === "IN_PROGRESS") return awaitRunEnd(env, ref, found.run, dispatchOnce, waited);
  if (!found?.delivery) return ack;
  return deliverWebhook(env, found.delivery);
}

/** A message that comes at most this early waits here; an earlier one goes back to the queue. */
const EARLY_WAIT_MS = 1500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A message for a run that has not lasted its duration yet: the start message of a run that the sweep,
 * another message's dispatch or a run call started after it was sent, or a copy the sweep re-sent. It
 * completes the run at its end: waiting here for a moment, else from the queue again (whole seconds,
 * rounded down: it comes back up to a second early and waits out the rest here).
 */
async function awaitRunEnd(env: Env, ref: RunRef, run: RunState, dispatchOnce: DispatchOnce, waited: boolean): Promise<MessageOutcome> {
  const endsAt = (run.startedAt?.getTime() ?? 0) + getConfig(env).jobDurationSeconds * 1000;
  const earlyMs = endsAt - Date.now();
  if (earlyMs > EARLY_WAIT_MS || waited) return retryIn(Math.max(1, Math.floor(earlyMs / 1000)));
  if (earlyMs > 0) await sleep(earlyMs);
  return processRunMessage(env, ref, dispatchOnce, true);
}

/**
 * A start message: the dispatcher starts the due runs, best place in line first (this run among them,
 * unless every slot is busy: then it waits its turn, and a finishing run or the sweep starts it). A
 * message that came early (delays are whole seconds; a hop of a wait longer than a message allows)
 * waits: here for a moment, else in the queue again.
 */
async function startScheduled(dueAt: Date, dispatchOnce: DispatchOnce): Promise<MessageOutcome> {
  const earlyMs = dueAt.getTime() - Date.now();
  if (earlyMs > EARLY_WAIT_MS) return retryIn(earlyMs / 1000);
  if (earlyMs > 0) await sleep(earlyMs);
  await dispatchOnce(dueAt);
  return ack;
}

/** Sends the attempt this batch claimed for the run (same lease), or handles the message afresh. */
async function resumeClaim(env: Env, ref: RunRef, lease: Date, dispatchOnce: DispatchOnce): Promise<MessageOutcome> {
  const delivery = (await runsRepo.findRunByRef(getDb(env.DB), ref))?.delivery;
  const ours = delivery?.state === "SENDING" && delivery.series === 1 && delivery.attempts === 1 && leaseUntilOf(delivery)?.getTime() === lease.getTime();
  return ours ? sendClaimedAttempt(env, delivery) : processRunMessage(env, ref, dispatchOnce);
}

/**
 * A batch with its D1 work grouped: one round trip completes every due run and claims attempt 1 of
 * its webhook, the webhooks go out concurrently, one round trip writes every log row and delivery
 * state. Whatever does not fit the common path, or fails as a group, is handled one message at a time,
 * so one bad message never holds back the others.
 */
export async function processRunBatch(env: Env, refs: RunRef[], budget = inlineBudget()): Promise<BatchResult[]> {
  const db = getDb(env.DB);
  const now = new Date();
  const lease = deliveryLeaseUntil(env, now);
  const dispatchOnce = dispatcherFor(env);
  let claimed: DeliveryWithBody[];
  let runsWaiting: boolean;
  try {
    ({ claimed, runsWaiting } = await completeRuns(env, refs, now, lease));
  } catch (err) {
    logFailure("consumer.batch_failed", { runs: refs, then: "each message is handled on its own" }, err);
    // The batch commits or not as a whole; a failure after it committed (the answer was lost) is
    // recognised by the lease this batch took. Each message looks at its own run again; a second copy
    // of the same run only looks (it finds the lease of the first, and waits).
    const resumed = new Set<string>();
    const results = await Promise.all(
      refs.map((ref) => {
        const first = !resumed.has(webhookIdOf(ref));
        resumed.add(webhookIdOf(ref));
        return settled(first ? resumeClaim(env, ref, lease, dispatchOnce) : continueRun(env, ref, dispatchOnce));
      }),
    );
    if (getConfig(env).maxConcurrentRuns > 0) {
      await dispatchOnce().catch((err: unknown) => logFailure("dispatch.failed", { after: "completions", then: "the next sweep starts the waiting runs" }, err));
    }
    return results;
  }
  // A run named twice (two copies of its message in one batch) is sent for its first copy only.
  const byWebhookId = new Map(claimed.map((delivery) => [delivery.webhookId, delivery]));
  // The other messages' runs, read together (starts, retries, copies of runs already done); if that
  // read fails, each message reads its own.
  // (A second copy of a claimed run is not among them: it reads its own.)
  const unclaimed = refs.filter((ref) => !byWebhookId.has(webhookIdOf(ref)));
  const others = await runsRepo.findRunsByRefs(db, unclaimed).catch((err: unknown) => {
    logFailure("consumer.read_failed", { runs: unclaimed, then: "each message reads its own run" }, err);
    return undefined;
  });
  const reads = others && new Map(unclaimed.map((ref) => [webhookIdOf(ref), others.get(webhookIdOf(ref)) ?? null]));
  const planned = await Promise.all(
    refs.map(async (ref) => {
      const delivery = byWebhookId.get(webhookIdOf(ref));
      byWebhookId.delete(webhookIdOf(ref));
      if (!delivery) return { result: settled(continueRun(env, ref, dispatchOnce, reads?.get(webhookIdOf(ref)))) };
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
    } catch (err) {
      logFailure("consumer.batch_failed", { runs: plans.map((p) => p.settled.delivery.runId), then: "each attempt is written on its own" }, err);
    }
  }
  const results = await Promise.all(
    planned.map(async ({ plan, result }) => {
      if (!plan) return result!;
      if (grouped) return plan.outcome;
      return settled(plan.writes().then(() => plan.outcome));
    }),
  );
  // Runs just finished freed their slots: runs waiting for one start now (after this batch's attempts
  // are written, so no attempt of it is still open while the dispatcher works).
  if (claimed.length > 0 && runsWaiting && getConfig(env).maxConcurrentRuns > 0) {
    const freed = await dispatchOnce().then(
      (dispatched) => dispatched.started,
      (err: unknown) => (logFailure("dispatch.failed", { after: "completions", then: "the next sweep starts the waiting runs" }, err), []),
    );
    await completeZeroLength(env, freed, budget);
  }
  return results;
}

/**
 * What one invocation spends on completing runs itself (see completeZeroLength): webhooks sent by
 * its waves (a Worker invocation has a cap on subrequests; D1 and queue calls count too), and time
 * (the batch's messages are acknowledged only when it ends).
 */
interface InlineBudget {
  webhooks: number;
  until: number;
}
export const inlineBudget = (): InlineBudget => ({ webhooks: 400, until: Date.now() + 10_000 });

/**
 * Runs of no duration that the completions' freed slots started are completed here, as the next wave,
 * instead of each holding its slot for a queue hop (which would cap a burst at MAX_CONCURRENT_RUNS runs
 * per hop), within the invocation's budget. Their messages, already queued, then find them done (or
 * their attempt under way: they wait out its lease); a failed attempt is retried by them.
 */
async function completeZeroLength(env: Env, started: Run[], budget: InlineBudget) {
  if (started.length === 0 || getConfig(env).jobDurationSeconds > 0) return;
  if (started.length > budget.webhooks || Date.now() >= budget.until) return;
  budget.webhooks -= started.length;
  const refs = started.map((run) => ({ jobId: run.jobId, number: run.number }));
  await processRunBatch(env, refs, budget).catch((err: unknown) => logFailure("consumer.batch_failed", { runs: refs, then: "their own messages complete them" }, err));
}
