/**
 * Cancel, pause and resume. Cancel stops a job's current run: the one in progress, else the next one
 * to come (for a recurring job, that occurrence only: the schedule carries on). Pause stops a schedule
 * (its next occurrence is cancelled and no other is made); resume makes the next occurrence after now.
 */
import { and, asc, desc, eq } from "drizzle-orm";
import { getDb } from "../db/client";
import { runs, type Run } from "../db/schema";
import { createDeliveries } from "../deliveries/transitions";
import { getConfig, type Env, type JobMessage } from "../env";
import { getJob } from "../jobs/service";
import * as jobsRepo from "../jobs/repository";
import { conflict } from "../lib/errors";
import { logCancelled, logScheduled } from "../lib/log";
import { advanceCursors, dispatch, occurrenceRun, sendStartMessages } from "../runs/dispatch";
import { cancelRuns, inProgress, insertRuns, pointLatest, refreshJobs, scheduled } from "../runs/transitions";
import type { JobView } from "../runs/views";
import { nextOccurrence, underLimit } from "./occurrences";
import { cancelScheduledOf } from "./timing";

/**
 * The run a cancel stops: one in progress (the latest started, when a schedule that allows overlap has
 * several), else the next to come.
 */
async function currentRun(env: Env, job: JobView): Promise<Pick<Run, "id" | "number" | "status" | "occurrenceAt"> | undefined> {
  const db = getDb(env.DB);
  const columns = { id: runs.id, number: runs.number, status: runs.status, occurrenceAt: runs.occurrenceAt };
  const [[running], [next]] = await db.batch([
    db.select(columns).from(runs).where(and(eq(runs.jobId, job.id), inProgress)).orderBy(desc(runs.startedAt), desc(runs.id)).limit(1),
    db.select(columns).from(runs).where(and(eq(runs.jobId, job.id), scheduled)).orderBy(asc(runs.dueAt)).limit(1),
  ]);
  return running ?? next;
}

/**
 * Cancels the job's current run: it becomes CANCELLED, its queue message does nothing when it comes,
 * no completion webhook is sent (a job.cancelled one is, when the job has notifyOnCancel). A recurring
 * occurrence cancelled before it started is followed by the next one. 409 when nothing runs or is to come.
 */
export async function cancelJob(env: Env, id: string): Promise<JobView> {
  const job = await getJob(env, id);
  const run = await currentRun(env, job);
  if (!run) throw conflict(`Job '${id}' has no run in progress or to come to cancel`);
  const db = getDb(env.DB);
  const now = new Date();
  // An occurrence cancelled before it started is followed by the next (one in progress already was).
  const schedule = run.status === "SCHEDULED" && run.occurrenceAt && job.schedule && !job.paused && underLimit(job.schedule, job.occurrences) ? job.schedule : null;
  const next = schedule ? nextOccurrence(schedule, new Date(Math.max(run.occurrenceAt!.getTime(), now.getTime()))) : null;
  const follow = schedule && next ? [occurrenceRun(id, next, schedule, now, run.id)] : [];
  const ref = { jobId: id, number: run.number };
  const [cancelled, delivered, made] = await db.batch([
    cancelRuns(db, [{ id: run.id, reason: "cancelled by request" }], now, { running: true }),
    createDeliveries(db, [ref], now, { url: getConfig(env).webhookUrl, claimedUntil: null }),
    insertRuns(db, follow),
    advanceCursors(db, follow),
    pointLatest(db, [run.id]),
    refreshJobs(db, [id], now),
  ]);
  if (cancelled.length === 0) throw conflict(`Run ${run.number} of job '${id}' finished before it could be cancelled`);
  logCancelled(cancelled);
  if (delivered.length > 0) await env.JOB_QUEUE.send({ jobId: id, run: run.number } satisfies JobMessage).catch(() => undefined); // else the sweep sends it
  logScheduled(made);
  await sendStartMessages(env, made, now).catch(() => undefined);
  // A slot freed: a run waiting for one starts now.
  if (run.status === "IN_PROGRESS" && getConfig(env).maxConcurrentRuns > 0) await dispatch(env, now).catch(() => undefined);
  return getJob(env, id);
}

/** Stops the job's schedule: its next occurrence is cancelled and no other is made until it is resumed. */
export async function pauseJob(env: Env, id: string): Promise<JobView> {
  const job = await getJob(env, id);
  if (!job.schedule) throw conflict(`Job '${id}' has no schedule to pause`);
  if (job.paused) throw conflict(`Job '${id}' is already paused`);
  const db = getDb(env.DB);
  const now = new Date();
  const [, cancelled] = await db.batch([
    jobsRepo.updateJobFields(db, id, { paused: true }, now),
    cancelScheduledOf(db, id, "the schedule was paused", now, { occurrencesOnly: true }),
    refreshJobs(db, [id], now),
  ]);
  logCancelled(cancelled);
  return getJob(env, id);
}

/** Restarts a paused schedule from now: the occurrences it missed while paused are not made. */
export async function resumeJob(env: Env, id: string): Promise<JobView> {
  const job = await getJob(env, id);
  if (!job.schedule) throw conflict(`Job '${id}' has no schedule to resume`);
  if (!job.paused) throw conflict(`Job '${id}' is not paused`);
  const db = getDb(env.DB);
  const now = new Date();
  const next = underLimit(job.schedule, job.occurrences) ? nextOccurrence(job.schedule, now) : null;
  const rows = next ? [occurrenceRun(id, next, job.schedule, now)] : [];
  const [, made] = await db.batch([jobsRepo.updateJobFields(db, id, { paused: false }, now), insertRuns(db, rows), advanceCursors(db, rows), refreshJobs(db, [id], now)]);
  logScheduled(made);
  await sendStartMessages(env, made, now).catch(() => undefined);
  return getJob(env, id);
}
