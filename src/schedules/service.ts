/**
 * Cancel, pause and resume, for one job or many (the bulk actions) in a fixed number of D1 round trips
 * and queue calls, whatever the number of jobs. Cancel stops a job's current run: the one in progress,
 * else the next one to come (for a recurring job, that occurrence only: the schedule carries on). Pause
 * stops a schedule (its next occurrence is cancelled and no other is made); resume makes the next
 * occurrence after now.
 */
import { getDb } from "../db/client";
import type { Schedule } from "../db/schema";
import { createDeliveries } from "../deliveries/transitions";
import { getConfig, type Env, type JobMessage } from "../env";
import { getJob } from "../jobs/service";
import * as jobsRepo from "../jobs/repository";
import { conflict, notFound } from "../lib/errors";
import { logCancelled, logFailure, logScheduled } from "../lib/log";
import { advanceCursors, dispatchInBackground, occurrenceRun, sendStartMessages } from "../runs/dispatch";
import { findCurrentRuns } from "../runs/repository";
import { cancelRuns, insertRuns, pointLatest, refreshJobs, type NewRun } from "../runs/transitions";
import type { JobView } from "../runs/views";
import { nextOccurrence, underLimit } from "./occurrences";
import { cancelScheduledOf } from "./timing";

/** What happened to each job of a request: done, refused (409, with the reason) or not found (404). */
export interface ActionResult {
  done: string[];
  refused: { id: string; message: string }[];
  notFound: string[];
}

const emptyResult = (): ActionResult => ({ done: [], refused: [], notFound: [] });

/** One job's outcome as the single-job routes answer it: a 404 or a 409, else the job as it now stands. */
async function single(env: Env, id: string, result: ActionResult): Promise<JobView> {
  if (result.notFound.length > 0) throw notFound("Job", id);
  const [refusal] = result.refused;
  if (refusal) throw conflict(refusal.message);
  return getJob(env, id);
}

export const cancelJob = async (env: Env, id: string) => single(env, id, await cancelJobs(env, [id]));
export const pauseJob = async (env: Env, id: string) => single(env, id, await pauseJobs(env, [id]));
export const resumeJob = async (env: Env, id: string) => single(env, id, await resumeJobs(env, [id]));

/** The occurrence of `schedule` that follows a cancelled one, unless the schedule stops there. */
function followingOccurrence(schedule: Schedule | null, paused: boolean, occurrences: number, after: Date): Date | null {
  if (!schedule || paused || !underLimit(schedule, occurrences)) return null;
  try {
    return nextOccurrence(schedule, after);
  } catch {
    return null; // a stored schedule that can no longer be read makes nothing more (the dispatcher says why)
  }
}

/**
 * Cancels each job's current run: it becomes CANCELLED, its queue message does nothing when it comes,
 * no completion webhook is sent (a job.cancelled one is, when the job has notifyOnCancel). A recurring
 * occurrence cancelled before it started is followed by the next one. Refused for a job with nothing
 * in progress or to come, or whose run finished before it could be cancelled.
 */
export async function cancelJobs(env: Env, ids: string[]): Promise<ActionResult> {
  const db = getDb(env.DB);
  const { webhookUrl, maxConcurrentRuns } = getConfig(env);
  const now = new Date();
  const result = emptyResult();
  const current = await findCurrentRuns(db, ids);
  const found = new Map(current.map((row) => [row.jobId, row]));
  const cancels: { id: number; reason: string }[] = [];
  const follows: NewRun[] = [];
  for (const id of ids) {
    const row = found.get(id);
    if (!row) result.notFound.push(id);
    else if (!row.run) result.refused.push({ id, message: `Job '${id}' has no run in progress or to come to cancel` });
    else {
      cancels.push({ id: row.run.id, reason: "cancelled by request" });
      // An occurrence cancelled before it started is followed by the next (one in progress already was).
      const next = row.run.status === "SCHEDULED" && row.run.occurrenceAt ? followingOccurrence(row.schedule, row.paused, row.occurrences, new Date(Math.max(row.run.occurrenceAt.getTime(), now.getTime()))) : null;
      if (next) follows.push({ ...occurrenceRun(id, next, row.schedule!, now, row.run.id), afterCancelAt: now });
    }
  }
  if (cancels.length === 0) return result;

  const runs = current.flatMap((row) => (row.run ? [{ jobId: row.jobId, ...row.run }] : []));
  // All or nothing per run: every statement after the cancel depends on it (the run was CANCELLED at
  // `now` by this batch), so a run that started or finished since it was read keeps everything as it is.
  const [cancelled, delivered, made] = await db.batch([
    cancelRuns(db, cancels, now, { running: true }),
    createDeliveries(db, runs.map((run) => ({ jobId: run.jobId, number: run.number })), now, { url: webhookUrl, claimedUntil: null, onlyCancelledAt: now }),
    insertRuns(db, follows),
    advanceCursors(db, follows),
    pointLatest(db, runs.map((run) => run.id), { onlyCancelledAt: now }),
    refreshJobs(db, runs.map((run) => run.jobId), now),
  ]);
  logCancelled(cancelled);
  logScheduled(made);
  const done = new Set(cancelled.map((run) => run.jobId));
  for (const run of runs) {
    if (done.has(run.jobId)) result.done.push(run.jobId);
    else result.refused.push({ id: run.jobId, message: `Run ${run.number} of job '${run.jobId}' finished before it could be cancelled` });
  }

  // Their job.cancelled webhooks and the next occurrences' start messages; if a send fails, the sweep sends them.
  const webhooks = delivered.map((delivery): JobMessage => ({ jobId: delivery.jobId, run: runs.find((run) => run.id === delivery.runId)!.number }));
  if (webhooks.length > 0) {
    await env.JOB_QUEUE.sendBatch(webhooks.map((body) => ({ body }))).catch((err: unknown) =>
      logFailure("queue.send_failed", { runs: webhooks, what: "job.cancelled webhooks; the sweep sends them" }, err),
    );
  }
  await sendStartMessages(env, made, now).catch((err: unknown) => logFailure("queue.send_failed", { jobIds: ids, what: "start messages; the sweep sends them when due" }, err));
  // Slots freed: runs waiting for one start now.
  if (cancelled.some((run) => run.startedAt !== null) && maxConcurrentRuns > 0) await dispatchInBackground(env, now, { jobIds: [...done], after: "cancel" });
  return result;
}

/** Stops the jobs' schedules: each next occurrence is cancelled and no other is made until resumed. */
export async function pauseJobs(env: Env, ids: string[]): Promise<ActionResult> {
  const db = getDb(env.DB);
  const now = new Date();
  const result = emptyResult();
  const found = new Map((await jobsRepo.findSchedules(db, ids)).map((job) => [job.id, job]));
  const pausing: string[] = [];
  for (const id of ids) {
    const job = found.get(id);
    if (!job) result.notFound.push(id);
    else if (!job.schedule) result.refused.push({ id, message: `Job '${id}' has no schedule to pause` });
    else if (job.paused) result.refused.push({ id, message: `Job '${id}' is already paused` });
    else pausing.push(id);
  }
  if (pausing.length === 0) return result;
  const [paused, cancelled] = await db.batch([
    jobsRepo.setPaused(db, pausing, true, now),
    cancelScheduledOf(db, pausing, "the schedule was paused", now, { occurrencesOnly: true }),
    refreshJobs(db, pausing, now),
  ]);
  logCancelled(cancelled);
  const done = new Set(paused.map((job) => job.id));
  for (const id of pausing) {
    if (done.has(id)) result.done.push(id);
    else result.refused.push({ id, message: `Job '${id}' was paused or changed meanwhile` });
  }
  return result;
}

/** Restarts paused schedules from now: the occurrences they missed while paused are not made. */
export async function resumeJobs(env: Env, ids: string[]): Promise<ActionResult> {
  const db = getDb(env.DB);
  const now = new Date();
  const result = emptyResult();
  const found = new Map((await jobsRepo.findSchedules(db, ids)).map((job) => [job.id, job]));
  const resuming: string[] = [];
  const rows: NewRun[] = [];
  for (const id of ids) {
    const job = found.get(id);
    if (!job) result.notFound.push(id);
    else if (!job.schedule) result.refused.push({ id, message: `Job '${id}' has no schedule to resume` });
    else if (!job.paused) result.refused.push({ id, message: `Job '${id}' is not paused` });
    else {
      resuming.push(id);
      const next = followingOccurrence(job.schedule, false, job.occurrences, now);
      // Made only if this batch's resume wrote the job (a second resume at once is refused and makes nothing).
      if (next) rows.push({ ...occurrenceRun(id, next, job.schedule, now), jobWrittenAt: now });
    }
  }
  if (resuming.length === 0) return result;
  const [resumed, made] = await db.batch([jobsRepo.setPaused(db, resuming, false, now), insertRuns(db, rows), advanceCursors(db, rows), refreshJobs(db, resuming, now)]);
  logScheduled(made);
  await sendStartMessages(env, made, now).catch((err: unknown) => logFailure("queue.send_failed", { jobIds: resuming, what: "start messages; the sweep sends them when due" }, err));
  const done = new Set(resumed.map((job) => job.id));
  for (const id of resuming) {
    if (done.has(id)) result.done.push(id);
    else result.refused.push({ id, message: `Job '${id}' was resumed or changed meanwhile` });
  }
  return result;
}
