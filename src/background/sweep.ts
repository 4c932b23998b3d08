/**
 * The sweep (the Cron Trigger every minute; `npm start` fires it locally): starts due runs that no
 * message started (a lost message, a restart, a run that waited for a slot), queues the start message of
 * runs scheduled further ahead than a message can wait once they come near, queues again the runs in
 * progress and the deliveries whose message was lost (a first attempt whose worker died, found through its
 * run), and fails a run whose completion could not be recorded for an hour. It reads no user data and
 * a bounded number of rows (partial indexes of unfinished work). Each phase stands alone: one that
 * fails is logged and the others still run.
 */
import { getDb } from "../db/client";
import { onEveryShard } from "../db/shards";
import { type Cursor, readCursor, writeCursor } from "../db/cursors";
import { FIRST_ATTEMPTS_CURSOR, indexUnsettledFirstAttempts } from "../webhooks/deliveries";
import { deliveryLeaseUntil } from "../webhooks/attempts";
import { findStalledDeliveries } from "../webhooks/repository";
import { getConfig, type Env, type JobMessage } from "../env";
import { logFailure } from "../lib/log";
import { rollupHours } from "../stats/rollup";
import { purge } from "./purge";
import { retention, retentionBehind } from "./retention";
import { dispatch, MESSAGE_REACH_MS, sendStartMessages } from "../runs/dispatch";
import { failRuns, markQueued, markRecovered } from "../runs/lifecycle";
import { findOverdueRuns, findUnqueuedRuns, finishedStepEnd } from "../runs/repository";

/** How long past its expected time a run (or a delivery past its next attempt) may go quiet before the sweep acts. */
export const DEFAULT_SWEEP_GRACE_SECONDS = 60;
/**
 * A run whose completion has not been recorded this long after its expected end is FAILED: its
 * messages were lost or never processed however often they were sent again. A slow queue is waited
 * for until then (the sweep sends another copy with a growing pause), never failed for being slow.
 */
export const COMPLETION_DEADLINE_MS = 60 * 60 * 1000;
/** Longest pause between two copies the sweep sends of a run's message. */
const MAX_RECOVERY_PAUSE_MS = 15 * 60 * 1000;
/** Most rows one sweep handles of each kind; the next sweep takes the rest. */
const SWEEP_BATCH = 100;
/** Runs due within this long get their start message from the sweep (the next sweeps come well before). */
const LOOKAHEAD_MS = 10 * 60 * 1000;

/** Finished runs per step of that walk, and steps per sweep: 20 000 runs a minute (333 a second) keep it level. */
const FIRST_ATTEMPT_STEP = 5_000;
const FIRST_ATTEMPT_STEPS = 4;

export interface SweepReport {
  startedRuns: number;
  queuedStarts: number;
  requeuedRuns: number;
  failedRuns: number;
  requeuedDeliveries: number;
  /** Rows removed by a retention pass that was behind (runs, deliveries, log rows and keys). */
  retainedRows: number;
  /** Rows of deleted jobs removed by the purge (runs, deliveries and log rows). */
  purgedRows: number;
  /** Phases that failed (each logged with its error); the others ran. */
  failedPhases: number;
}

/** How long the sweep waits before sending a run's message again, after `recoveries` copies: the grace, doubling. */
export const recoveryPauseMs = (graceSeconds: number, recoveries: number) => Math.min(graceSeconds * 1000 * 2 ** recoveries, MAX_RECOVERY_PAUSE_MS);

/** The sweep of every shard (each its own runs and deliveries, side by side). */
export const sweep = (env: Env, now: Date): Promise<SweepReport> => onEveryShard(env, (shard) => sweepShard(shard, now));

async function sweepShard(env: Env, now: Date): Promise<SweepReport> {
  const db = getDb(env.DB);
  const { jobDurationSeconds, sweepGraceSeconds, webhookUrl } = getConfig(env);
  const before = new Date(now.getTime() - sweepGraceSeconds * 1000);
  const report: SweepReport = { startedRuns: 0, queuedStarts: 0, requeuedRuns: 0, failedRuns: 0, requeuedDeliveries: 0, retainedRows: 0, purgedRows: 0, failedPhases: 0 };

  const phase = async (name: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (err) {
      report.failedPhases += 1;
      logFailure("sweep.phase_failed", { phase: name }, err);
    }
  };
  const send = async (messages: JobMessage[]) => {
    // Extra copies are harmless (every step is conditional), so a message that also arrives late costs nothing.
    for (let i = 0; i < messages.length; i += 100) await env.JOB_QUEUE.sendBatch(messages.slice(i, i + 100).map((body) => ({ body })));
  };

  // Runs scheduled beyond a message's reach, now coming near: their start message.
  await phase("queue-starts", async () => {
    const soon = await findUnqueuedRuns(db, now, Math.min(LOOKAHEAD_MS, MESSAGE_REACH_MS), SWEEP_BATCH);
    if (soon.length === 0) return;
    await markQueued(db, soon.map((run) => run.id));
    await sendStartMessages(env, soon.map((run) => ({ ...run, expectedAt: run.dueAt })), now);
    report.queuedStarts += soon.length;
  });

  // Runs in progress whose message is overdue: another copy (after a growing pause), or FAILED once
  // their completion is an hour late.
  await phase("overdue-runs", async () => {
    const messages: JobMessage[] = [];
    for (const run of await findOverdueRuns(db, before, SWEEP_BATCH)) {
      const ref = { jobId: run.jobId, number: run.number };
      const deadline = (run.startedAt?.getTime() ?? 0) + jobDurationSeconds * 1000 + COMPLETION_DEADLINE_MS;
      if (now.getTime() > deadline) {
        const reason = `execution could not be completed: no completion was recorded within ${COMPLETION_DEADLINE_MS / 60_000} min of its expected end (its message was sent again ${run.recoveries} times and never processed)`;
        if (await failRuns(db, [ref], reason, now, webhookUrl)) {
          report.failedRuns += 1;
          messages.push({ jobId: run.jobId, run: run.number }); // its job.failed webhook
        }
      } else if (await markRecovered(db, run, new Date(Math.min(now.getTime() + recoveryPauseMs(sweepGraceSeconds, run.recoveries), deadline)))) {
        report.requeuedRuns += 1;
        messages.push({ jobId: run.jobId, run: run.number });
      }
    }
    await send(messages);
  });

  // Due runs (after the overdue ones were failed: their slots are free), in their place in line.
  await phase("dispatch", async () => {
    report.startedRuns += (await dispatch(env, now)).started.length;
  });

  // First attempts claimed when their run finished hold no index entry while in flight (their message is
  // acknowledged only once the attempt is settled): one whose worker died and whose message is gone too is
  // found here, through its run, and put where the search for stalled deliveries just below finds it.
  await phase("unsettled-first-attempts", async () => {
    const [stored] = await readCursor(db, FIRST_ATTEMPTS_CURSOR);
    // The walk stays a lease and the grace behind the clock (the sweep's, and never past the real one: a
    // cursor carried ahead would pass the completions behind it by), so that what it finds unsettled is
    // stalled by then, unless its lease was longer than today's (its attempt then waits out its lease).
    const lagMs = deliveryLeaseUntil(env, now).getTime() - now.getTime() + sweepGraceSeconds * 1000;
    const until = Math.min(now.getTime(), Date.now()) - lagMs;
    // No cursor (a database set up without migration 0014's row): first attempts from now on.
    let after: Cursor = stored ?? { at: until, id: 0 };
    for (let step = 0; step < FIRST_ATTEMPT_STEPS; step += 1) {
      const [, [end]] = await db.batch([indexUnsettledFirstAttempts(db, after, until, FIRST_ATTEMPT_STEP), finishedStepEnd(db, after, until, FIRST_ATTEMPT_STEP)]);
      if (!end) break;
      after = { at: end.at, id: end.id };
      if (end.n < FIRST_ATTEMPT_STEP) break;
    }
    if (after.at !== stored?.at || after.id !== stored?.id) await writeCursor(db, FIRST_ATTEMPTS_CURSOR, after);
  });

  await phase("stalled-deliveries", async () => {
    const stalled = await findStalledDeliveries(db, before, SWEEP_BATCH);
    await send(stalled.map((delivery) => ({ jobId: delivery.jobId, run: delivery.number })));
    report.requeuedDeliveries += stalled.length;
  });

  // Retention behind (its last pass stopped at its limits): another pass now, not in an hour.
  await phase("retention", async () => {
    if (!(await retentionBehind(env))) return;
    const retained = await retention(env, now);
    report.retainedRows += retained.runsDeleted + retained.deliveriesDeleted + retained.logsDeleted + retained.idempotencyKeysDeleted;
  });

  // The overview's hours that are over, rolled up once each (stats/rollup.ts); a failed rollup is tried again next sweep.
  await phase("rollup", async () => void (await rollupHours(env, now)));

  // What deleted jobs left behind, a bounded amount per sweep.
  await phase("purge", async () => {
    const purged = await purge(env, now);
    report.purgedRows += purged.runsDeleted + purged.deliveriesDeleted + purged.logsDeleted;
  });
  return report;
}
