/**
 * Pause and resume a schedule, for one job or many (the bulk actions) in a fixed number of D1 round
 * trips and queue calls, whatever the number of jobs. Pause stops a schedule (its next occurrence is
 * cancelled and no other is made); resume makes the next occurrence after now. (Cancel, which stops a
 * run, is in runs/service.ts.)
 */
import { getDb } from "../db/client";
import type { Env } from "../env";
import { answerOne, emptyResult, onEachShard, type ActionResult } from "../jobs/actions";
import { findSchedules } from "../jobs/repository";
import { refreshJobs, setPaused } from "../jobs/state";
import { logCancelled, logFailure, logScheduled } from "../lib/log";
import { occurrenceRun, sendStartMessages } from "../runs/dispatch";
import { cancelScheduledOf, insertRuns, type NewRun } from "../runs/lifecycle";
import { followingOccurrence } from "./occurrences";

/** Pauses one job's schedule: its state after, a 404 or a 409 (see pauseJobs). */
export const pauseJob = async (env: Env, id: string) => answerOne(env, id, await pauseJobs(env, [id]));
/** Resumes one job's schedule: its state after, a 404 or a 409 (see resumeJobs). */
export const resumeJob = async (env: Env, id: string) => answerOne(env, id, await resumeJobs(env, [id]));

/** Stops the jobs' schedules: each next occurrence is cancelled and no other is made until resumed. */
export const pauseJobs = (env: Env, ids: string[]) => onEachShard(env, ids, pauseOnShard);

async function pauseOnShard(env: Env, ids: string[]): Promise<ActionResult> {
  const db = getDb(env.DB);
  const now = new Date();
  const result = emptyResult();
  const found = new Map((await findSchedules(db, ids)).map((job) => [job.id, job]));
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
    setPaused(db, pausing, true, now),
    cancelScheduledOf(db, pausing, "the schedule was paused", now, { occurrencesOnly: true }),
    ...refreshJobs(db, pausing, now),
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
export const resumeJobs = (env: Env, ids: string[]) => onEachShard(env, ids, resumeOnShard);

async function resumeOnShard(env: Env, ids: string[]): Promise<ActionResult> {
  const db = getDb(env.DB);
  const now = new Date();
  const result = emptyResult();
  const found = new Map((await findSchedules(db, ids)).map((job) => [job.id, job]));
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
  const [resumed, made] = await db.batch([setPaused(db, resuming, false, now), insertRuns(db, rows), ...refreshJobs(db, resuming, now, { advance: rows })]);
  logScheduled(made);
  await sendStartMessages(env, made, now).catch((err: unknown) => logFailure("queue.send_failed", { jobIds: resuming, what: "start messages; the sweep sends them when due" }, err));
  const done = new Set(resumed.map((job) => job.id));
  for (const id of resuming) {
    if (done.has(id)) result.done.push(id);
    else result.refused.push({ id, message: `Job '${id}' was resumed or changed meanwhile` });
  }
  return result;
}
