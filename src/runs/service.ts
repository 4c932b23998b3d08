/**
 * Runs as the API and the dashboard read them (a job's runs, one run with its delivery and attempts)
 * and redelivery by hand, which starts a new series of attempts of a finished delivery.
 */
import { getDb } from "../db/client";
import type { Delivery, Run } from "../db/schema";
import { restartDelivery } from "../deliveries/transitions";
import type { Env, JobMessage } from "../env";
import { getJob, errorText } from "../jobs/service";
import { conflict, notFound, unavailable } from "../lib/errors";
import { readPage, type PageRequest } from "../lib/pagination";
import { listRunLogs, type LogView } from "../webhooks/repository";
import * as repo from "./repository";
import { deliveryDetail, runView, type DeliveryDetail, type RunView } from "./views";

/** Attempts shown with a run: the newest ones (a delivery has at most 50 per series). */
export const RUN_ATTEMPTS_SHOWN = 100;

/** A job's runs, newest first, each with its delivery; `known`: the job was just read (no second lookup for the 404). */
export async function listJobRuns(env: Env, jobId: string, page: PageRequest, { known = false } = {}) {
  if (!known) await getJob(env, jobId);
  const db = getDb(env.DB);
  const { items, pagination } = await readPage(page, (start, from, countLimit) => repo.listRuns(db, jobId, page.limit, start, from, countLimit), { list: "runs" });
  return { items: items.map(({ run, delivery }) => runView(run, delivery)), pagination };
}

/** The attempts of each run, newest first. */
export async function attemptsOf(env: Env, runIds: number[]): Promise<Map<number, LogView[]>> {
  const logs = await listRunLogs(getDb(env.DB), runIds, RUN_ATTEMPTS_SHOWN * Math.max(1, runIds.length));
  const byRun = new Map<number, LogView[]>(runIds.map((id) => [id, []]));
  for (const log of logs) byRun.get(log.runId)?.push(log);
  return byRun;
}

export type RunDetail = Omit<RunView, "delivery"> & { delivery: DeliveryDetail | null; attempts: LogView[] };

/** One run: what ran, its delivery with the exact body, and every attempt (newest first). */
export async function getRun(env: Env, runId: number): Promise<RunDetail> {
  const found = await repo.findRun(getDb(env.DB), runId);
  if (!found) throw notFound("Run", String(runId));
  const attempts = (await attemptsOf(env, [runId])).get(runId) ?? [];
  return { ...found.run, delivery: found.delivery ? deliveryDetail(found.delivery) : null, attempts };
}

/**
 * Sends a finished run's webhook again, as a new series of attempts with the same webhook-id and the
 * same body. If the message cannot be queued the sweep sends it.
 */
export async function redeliverRun(env: Env, runId: number): Promise<RunView> {
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
