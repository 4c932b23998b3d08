/**
 * The dispatcher: starts due SCHEDULED runs, best place in line first (due time plus priority offset),
 * as many as there are free slots (MAX_CONCURRENT_RUNS), and queues the message that completes each
 * after the job's duration. For a recurring job it applies the schedule's policies (a missed occurrence,
 * an occurrence while the previous run still runs) and makes the next occurrence, in the same batch.
 * It runs when a run is asked for, when a start message arrives, when a slot frees, and on every sweep;
 * every statement is conditional, so two at once start nothing twice.
 */
import { MAX_QUEUE_DELAY_SECONDS } from "../background/backoff";
import { getDb } from "../db/client";
import { eachShard } from "../db/shards";
import { type Run, type Schedule } from "../db/schema";
import { type Env, getConfig, type JobMessage } from "../env";
import { refreshJobs } from "../jobs/state";
import { logCancelled, logFailure, logScheduled, logStarted, runFields } from "../lib/log";
import { latestOccurrence, nextOccurrence, underLimit } from "../schedules/occurrences";
import { cancelRuns, failRuns, insertRuns, type NewRun, retimeStarted, startRuns } from "./lifecycle";
import { countInProgress, type DueRun, findDueRuns } from "./repository";

/** Most runs one dispatch weighs; a backlog is taken in turns. */
export const DISPATCH_BATCH = 100;
/** An occurrence not started within this long of its time counts as missed (see the schedule's `missed` policy). */
export const MISSED_AFTER_SECONDS = 300;
/** A start message can wait at most this long (Queues' limit); runs due later are messaged by the sweep. */
export const MESSAGE_REACH_MS = MAX_QUEUE_DELAY_SECONDS * 1000;

export interface Dispatched {
  started: Run[];
  cancelled: Run[];
  /** Next occurrences made. */
  scheduled: Run[];
}

const none: Dispatched = { started: [], cancelled: [], scheduled: [] };

const messageOf = (run: Pick<Run, "jobId" | "number">): JobMessage => ({ jobId: run.jobId, run: run.number });

/** A run due within a message's reach is sent its start message now (expectedAt marks it queued). */
export const expectedStart = (dueAt: Date, now: Date) => (dueAt.getTime() - now.getTime() <= MESSAGE_REACH_MS ? dueAt : null);

/**
 * The run of a recurring job's occurrence at `at`: made only while the job keeps `schedule` (and, with
 * `afterRunId`, once that run has left SCHEDULED; see insertRuns).
 */
export const occurrenceRun = (jobId: string, at: Date, schedule: Schedule, now: Date, afterRunId?: number): NewRun => ({
  jobId,
  dueAt: at,
  occurrenceAt: at,
  expectedAt: expectedStart(at, now),
  afterRunId,
  schedule: JSON.stringify(schedule),
});

/**
 * Queues the start message of each SCHEDULED run that is marked queued; a lost one is found by the
 * sweep. Delays are whole seconds: the message comes up to a second early, and its consumer waits out
 * the rest (so a run starts on its time, not up to a second after it).
 */
export async function sendStartMessages(env: Env, made: Pick<Run, "jobId" | "number" | "dueAt" | "expectedAt">[], now: Date) {
  const queued = made.filter((run) => run.expectedAt !== null);
  for (let i = 0; i < queued.length; i += 100) {
    await env.JOB_QUEUE.sendBatch(
      queued.slice(i, i + 100).map((run) => ({ body: messageOf(run), delaySeconds: Math.max(0, Math.floor((run.dueAt.getTime() - now.getTime()) / 1000)) })),
    );
  }
}

export type QueueFailure = "fail" | "recover";

/**
 * Queues the message that completes each run just started, after the job's duration (at most 100
 * runs: one sendBatch). If it cannot be queued and `onFailure` is "fail" (a person's run call, told
 * to try again), the runs fail with the reason (their job.failed webhooks go out via the sweep) and
 * the error is thrown. With "recover" (the dispatcher in the background: the consumer, the sweep, a
 * cancel or a delete freeing a slot), they stay IN_PROGRESS: the sweep finds them past their expected
 * time and queues their messages again.
 */
export async function queueCompletions(env: Env, started: Run[], onFailure: QueueFailure) {
  if (started.length === 0) return;
  logStarted(started);
  const { jobDurationSeconds, webhookUrl } = getConfig(env);
  try {
    await env.JOB_QUEUE.sendBatch(started.map((run) => ({ body: messageOf(run), delaySeconds: jobDurationSeconds })));
  } catch (err) {
    if (onFailure === "recover") {
      logFailure("queue.send_failed", { runs: started.map(runFields), what: "completions of runs just started; the sweep queues them" }, err);
      return;
    }
    const reason = `could not enqueue the run: ${err instanceof Error ? err.message : String(err)}`;
    await failRuns(getDb(env.DB), started.map((run) => ({ jobId: run.jobId, number: run.number })), reason, new Date(), webhookUrl);
    throw err;
  }
}

/**
 * What to do with one due run of a recurring job, and the occurrence after it. A missed run that the
 * `once` policy runs stands for the latest occurrence missed (`catchUp`: it takes that time if it starts).
 */
function weighOccurrence(run: DueRun, now: Date): { cancel: string | null; next: Date | null; catchUp?: boolean } {
  const schedule = run.schedule!;
  const missed = run.dueAt.getTime() < now.getTime() - MISSED_AFTER_SECONDS * 1000;
  let cancel: string | null = null;
  if (run.paused) cancel = "the schedule is paused";
  else if (missed && schedule.missed === "skip")
    cancel = `missed: not started within ${MISSED_AFTER_SECONDS / 60} min of its time (nothing was running, or every slot was busy); skipped by the schedule's missed policy`;
  else if (run.jobStatus === "IN_PROGRESS" && schedule.overlap === "skip") cancel = "skipped: the job's previous run was still in progress (the schedule's overlap policy)";
  // After a miss the schedule resumes from now: the occurrences in between are not made (skip), or this run catches them up once.
  const after = new Date(Math.max(missed ? now.getTime() : run.occurrenceAt!.getTime(), run.scheduleCursor?.getTime() ?? 0));
  try {
    return { cancel, next: run.paused || !underLimit(schedule, run.occurrences) ? null : nextOccurrence(schedule, after), catchUp: missed && !cancel };
  } catch (err) {
    // A stored schedule that can no longer be read must not hold back every other due run.
    return { cancel: unreadableSchedule(err), next: null };
  }
}

const unreadableSchedule = (err: unknown) => `the schedule cannot be evaluated: ${err instanceof Error ? err.message : String(err)}`;

/** The occurrence a catch-up run stands for; an Error when the stored schedule cannot be read (its run is cancelled, others go on). */
function catchUpTime(run: DueRun, now: Date): Date | Error {
  try {
    return latestOccurrence(run.schedule!, now, run.occurrenceAt!);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * A dispatch after a slot freed (a cancel, a delete, a failed run) that the caller does not wait on
 * for its answer: a failure is logged, and the next sweep starts the waiting runs.
 */
export async function dispatchInBackground(env: Env, now: Date | undefined, fields: Record<string, unknown>) {
  await dispatch(env, now).catch((err: unknown) => logFailure("dispatch.failed", { ...fields, then: "the next sweep starts the waiting runs" }, err));
}

/** Most turns one dispatch takes (each up to DISPATCH_BATCH runs) before leaving the rest to the next. */
const DISPATCH_TURNS = 20;

/**
 * Starts what the free slots allow, turn after turn, until no due run is left that could start (a run
 * another dispatcher took meanwhile is looked at again next turn, so none is left behind).
 */
export async function dispatch(env: Env, now = new Date()): Promise<Dispatched> {
  // Each shard dispatches its own runs, with its share of the limit (db/shards.ts).
  const shards = await Promise.all(eachShard(env).map((shard) => dispatchShard(shard, now)));
  return { started: shards.flatMap((d) => d.started), cancelled: shards.flatMap((d) => d.cancelled), scheduled: shards.flatMap((d) => d.scheduled) };
}

async function dispatchShard(env: Env, now: Date): Promise<Dispatched> {
  const total: Dispatched = { started: [], cancelled: [], scheduled: [] };
  for (let turn = 0; turn < DISPATCH_TURNS; turn++) {
    const { result, more } = await dispatchTurn(env, now);
    total.started.push(...result.started);
    total.cancelled.push(...result.cancelled);
    total.scheduled.push(...result.scheduled);
    if (!more) break;
  }
  return total;
}

/** One turn: weighs up to DISPATCH_BATCH due runs and starts what the free slots allow; `more` when another turn may start more. */
async function dispatchTurn(env: Env, now: Date): Promise<{ result: Dispatched; more: boolean }> {
  const { maxConcurrentRuns: limit, jobDurationSeconds } = getConfig(env);
  const db = getDb(env.DB);
  const [due, [counted]] = await db.batch([findDueRuns(db, now, DISPATCH_BATCH), countInProgress(db, limit)]);
  if (due.length === 0) return { result: none, more: false };

  let slots = limit > 0 ? limit - (counted?.n ?? 0) : Infinity;
  const cancels: { id: number; reason: string }[] = [];
  const starts: number[] = [];
  const catchUps: { id: number; at: Date }[] = [];
  const nexts: NewRun[] = [];
  for (const run of due) {
    const weighed = run.occurrenceAt && run.schedule ? weighOccurrence(run, now) : { cancel: null, next: null };
    if (weighed.cancel) cancels.push({ id: run.id, reason: weighed.cancel });
    else if (slots > 0) {
      // Its catch-up time, worked out only for a run that starts (a run waiting for a slot is weighed again each turn).
      const catchUp = weighed.catchUp ? catchUpTime(run, now) : null;
      if (catchUp instanceof Error) {
        cancels.push({ id: run.id, reason: unreadableSchedule(catchUp) });
        continue;
      }
      starts.push(run.id);
      if (catchUp && catchUp.getTime() !== run.occurrenceAt!.getTime()) catchUps.push({ id: run.id, at: catchUp });
      slots -= 1;
    } else continue; // waits for a slot; its next occurrence is made when it leaves SCHEDULED
    if (weighed.next) nexts.push(occurrenceRun(run.jobId, weighed.next, run.schedule!, now, run.id));
  }
  if (cancels.length + starts.length === 0) return { result: none, more: false };

  const jobIds = due.map((run) => run.jobId);
  // Runs start now by the clock, not at `now` (the sweep's scheduled time, a caller's time from before
  // its own writes, an earlier turn's): a run's duration and its slot count from when it really started.
  // A `now` ahead of the clock (a test's controlled clock) is kept.
  const startedAt = new Date(Math.max(now.getTime(), Date.now()));
  const [cancelled, started, , scheduled] = await db.batch([
    cancelRuns(db, cancels.length > 0 ? cancels : [{ id: -1, reason: "" }], now),
    startRuns(db, starts.length > 0 ? starts : [-1], startedAt, jobDurationSeconds * 1000, limit),
    // Catch-up runs take their new time only if this batch started them: one that lost its slot keeps its place.
    retimeStarted(db, catchUps.length > 0 ? catchUps : [{ id: -1, at: now }], startedAt),
    insertRuns(db, nexts),
    ...refreshJobs(db, jobIds, startedAt, { started: true, advance: nexts }),
  ] as const);

  logCancelled(cancelled);
  logScheduled(scheduled);
  // In the background (whoever called, the runs it starts may be anyone's): a lost send is the sweep's.
  await queueCompletions(env, started, "recover");
  await sendStartMessages(env, scheduled, now).catch((err: unknown) =>
    logFailure("queue.send_failed", { runs: scheduled.map(runFields), what: "start messages; the sweep starts those runs when due" }, err),
  );
  // Another turn when another dispatcher took some of this turn's runs (more due runs may be beyond
  // them, and a dispatcher that read earlier may not see them), or when more may be due than one turn reads.
  const raced = started.length + cancelled.length < starts.length + cancels.length;
  const more = raced || due.length === DISPATCH_BATCH;
  return { result: { started, cancelled, scheduled }, more };
}
