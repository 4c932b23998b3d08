/**
 * What a person does with runs, for the API and the dashboard: read them (a job's runs, one run with its
 * delivery and attempts), redeliver a finished run's webhook (a new series of attempts), and cancel a
 * job's current run (for one job or many).
 */
import * as repo from "./repository";
import { getDb } from "../db/client";
import type { Delivery, Run } from "../db/schema";
import { type Env, getConfig, type JobMessage } from "../env";
import { answerOne, emptyResult, onEachShard, type ActionResult } from "../jobs/actions";
import { byShard, onJobShard, onShard, shardOfKey } from "../db/shards";
import { errorText, getJob } from "../jobs/service";
import { pointLatest, refreshJobs } from "../jobs/state";
import { conflict, notFound, unavailable } from "../lib/errors";
import { logCancelled, logFailure, logScheduled } from "../lib/log";
import { type PageRequest, readPage } from "../lib/pagination";
import { followingOccurrence } from "../schedules/occurrences";
import { createDeliveries, restartDelivery } from "../webhooks/deliveries";
import { listRunLogs, type LogView } from "../webhooks/repository";
import { dispatchInBackground, occurrenceRun, sendStartMessages } from "./dispatch";
import { cancelRuns, insertRuns, type NewRun } from "./lifecycle";
import { findCurrentRuns } from "./repository";
import { type DeliveryDetail, deliveryDetail, type RunView, runView, shownRun } from "./views";

/** Attempts shown with a run: the newest ones (a delivery has at most 50 per series). */
export const RUN_ATTEMPTS_SHOWN = 100;

/** A job's runs, newest first, each with its delivery; `known`: the job was just read (no second lookup for the 404). */
export async function listJobRuns(env: Env, jobId: string, page: PageRequest, { known = false } = {}) {
  if (!known) await getJob(env, jobId);
  const db = getDb(onJobShard(env, jobId).DB);
  const { items, pagination } = await readPage(page, (start, from, countLimit) => repo.listRuns(db, jobId, page.limit, start, from, countLimit), { list: "runs" });
  return { items: items.map(({ run, delivery }) => runView(run, delivery)), pagination };
}

/** The attempts of each run, newest first. */
export async function attemptsOf(env: Env, runIds: number[]): Promise<Map<number, LogView[]>> {
  const shards = byShard(env, runIds, (id) => shardOfKey(env, id));
  const logs = (await Promise.all(shards.map(([k, ids]) => listRunLogs(getDb(onShard(env, k).DB), ids, RUN_ATTEMPTS_SHOWN * Math.max(1, ids.length))))).flat();
  const byRun = new Map<number, LogView[]>(runIds.map((id) => [id, []]));
  for (const log of logs) byRun.get(log.runId)?.push(log);
  return byRun;
}

export type RunDetail = Omit<RunView, "delivery"> & { delivery: DeliveryDetail | null; attempts: LogView[] };

/** One run: what ran, its delivery with the exact body, and every attempt (newest first). */
export async function getRun(env: Env, runId: number): Promise<RunDetail> {
  const found = await repo.findRun(getDb(onShard(env, shardOfKey(env, runId)).DB), runId);
  if (!found) throw notFound("Run", String(runId));
  const attempts = (await attemptsOf(env, [runId])).get(runId) ?? [];
  return { ...shownRun(found.run), delivery: found.delivery ? deliveryDetail(found.delivery) : null, attempts };
}

/**
 * Sends a finished run's webhook again, as a new series of attempts with the same webhook-id and the
 * same body. If the message cannot be queued the sweep sends it.
 */
export async function redeliverRun(env: Env, runId: number): Promise<RunView> {
  env = onShard(env, shardOfKey(env, runId));
  const db = getDb(env.DB);
  const found = await repo.findRun(db, runId);
  if (!found) throw notFound("Run", String(runId));
  return redeliver(env, found.run, found.delivery);
}

/** Redelivers the webhook of the job's latest run. */
export async function redeliverLatest(env: Env, jobId: string): Promise<RunView> {
  const job = await getJob(env, jobId);
  if (!job.latestRun) throw conflict(`Job '${jobId}' has no finished run to deliver`);
  return redeliverRun(env, job.latestRun.id);
}

async function redeliver(env: Env, run: Run, delivery: Delivery | null): Promise<RunView> {
  if (!delivery) throw conflict(`Run ${run.id} (run ${run.number} of job '${run.jobId}') has not finished: it has no webhook to deliver yet`);
  const restarted = await restartDelivery(getDb(env.DB), run.id, new Date());
  if (!restarted) throw conflict(`Run ${run.id} has a delivery in progress (${delivery.state}); wait for it to finish`);
  try {
    await env.JOB_QUEUE.send({ jobId: run.jobId, run: run.number } satisfies JobMessage);
  } catch (err) {
    throw unavailable(`The redelivery of run ${run.id} is recorded but could not be queued (${errorText(err)}); the sweep will send it within minutes`);
  }
  return runView(run, restarted);
}

/** Cancels one job's current run: its state after, a 404 or a 409 (see cancelJobs). */
export const cancelJob = async (env: Env, id: string) => answerOne(env, id, await cancelJobs(env, [id]));

/**
 * Cancels each job's current run: it becomes CANCELLED, its queue message does nothing when it comes,
 * no completion webhook is sent (a job.cancelled one is, when the job has notifyOnCancel). A recurring
 * occurrence cancelled before it started is followed by the next one. Refused for a job with nothing
 * in progress or to come, or whose run finished before it could be cancelled.
 */
export const cancelJobs = (env: Env, ids: string[]) => onEachShard(env, ids, cancelOnShard);

async function cancelOnShard(env: Env, ids: string[]): Promise<ActionResult> {
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
    pointLatest(db, runs.map((run) => run.id), { onlyCancelledAt: now }),
    ...refreshJobs(db, runs.map((run) => run.jobId), now, { advance: follows }),
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
