/**
 * The job lifecycle, shared by the JSON API, the dashboard and the queue consumer.
 * PENDING -> IN_PROGRESS (run) -> COMPLETED (consumer, after the job's duration) -> webhook delivery.
 */
import { getDb } from "../db/client";
import type { Job } from "../db/schema";
import { getConfig, type Env, type JobMessage } from "../env";
import { conflict, notFound, unavailable } from "../lib/errors";
import { newJobId } from "../lib/ids";
import { offsetOf, toPage, type PageRequest } from "../lib/pagination";
import * as logsRepo from "../webhooks/repository";
import * as repo from "./repository";
import * as transitions from "./transitions";
import type { CreateJobInput, ListJobsQuery, UpdateJobInput } from "./schemas";

export async function createJob(env: Env, input: CreateJobInput): Promise<Job> {
  return repo.insertJob(getDb(env.DB), { id: newJobId(), ...input }, new Date());
}

export async function getJob(env: Env, id: string): Promise<Job> {
  const job = await repo.findJob(getDb(env.DB), id);
  if (!job) throw notFound("Job", id);
  return job;
}

export async function listJobs(env: Env, { limit, page, sort, ...filter }: ListJobsQuery) {
  const { rows, total, totalExact } = await repo.listJobs(getDb(env.DB), filter, sort, limit, offsetOf({ limit, page }));
  return toPage(rows, total, { limit, page }, totalExact);
}

export async function updateJob(env: Env, id: string, input: UpdateJobInput): Promise<Job> {
  const db = getDb(env.DB);
  const updated = await repo.updateJobFields(db, id, input, new Date());
  if (updated) return updated;
  await getJob(env, id);
  throw conflict(`Job '${id}' is IN_PROGRESS; edit it after the run finishes`);
}

export async function deleteJob(env: Env, id: string): Promise<void> {
  if (!(await repo.deleteJob(getDb(env.DB), id))) throw notFound("Job", id);
}

/**
 * Starts a run: the row becomes IN_PROGRESS with a new run id, then a message is queued to arrive
 * after the job's duration. If the message cannot be queued the run is failed with the reason, so
 * the job is never left IN_PROGRESS with nothing coming to finish it.
 */
export async function runJob(env: Env, id: string): Promise<Job> {
  const { jobDurationSeconds } = getConfig(env); // before any write: a bad config must change nothing
  const db = getDb(env.DB);
  const now = new Date();
  const started = await transitions.startRun(db, id, now, new Date(now.getTime() + jobDurationSeconds * 1000));
  if (!started) {
    await getJob(env, id);
    throw conflict(`Job '${id}' is already IN_PROGRESS`);
  }
  const message: JobMessage = { jobId: started.id, runId: started.runId };
  try {
    await env.JOB_QUEUE.send(message, { delaySeconds: jobDurationSeconds });
  } catch (err) {
    // The run is failed with the reason (its job.failed webhook goes out via the sweep once the
    // queue is back). Should this write fail too, the sweep finds the run overdue and recovers it.
    const reason = `could not enqueue the run: ${errorText(err)}`;
    await transitions.failRun(db, started.id, started.runId, reason, new Date());
    throw unavailable(`Job '${id}' could not be started (${reason}); try again`);
  }
  return started;
}

export interface BulkRunResult {
  started: Job[];
  /** Already IN_PROGRESS: left as they are. */
  inProgress: string[];
  notFound: string[];
}

/**
 * Starts many runs at once: one D1 round trip for the rows, one `sendBatch` for the messages. Jobs
 * already running are reported, not restarted. If the messages cannot be queued, every run started
 * here is failed with the reason (one more round trip) and the call answers 503.
 */
export async function runJobs(env: Env, ids: string[]): Promise<BulkRunResult> {
  const { jobDurationSeconds } = getConfig(env);
  const db = getDb(env.DB);
  const now = new Date();
  const rows = await transitions.startRuns(db, ids, now, new Date(now.getTime() + jobDurationSeconds * 1000));
  const started = rows.filter((row): row is Job => row !== undefined);
  const missed = ids.filter((_, i) => rows[i] === undefined);
  const existing = new Set(missed.length > 0 ? (await repo.findExisting(db, missed)) : []);
  if (started.length > 0) {
    try {
      await env.JOB_QUEUE.sendBatch(started.map((job) => ({ body: { jobId: job.id, runId: job.runId } satisfies JobMessage, delaySeconds: jobDurationSeconds })));
    } catch (err) {
      const reason = `could not enqueue the run: ${errorText(err)}`;
      const [first, ...rest] = started.map((job) => transitions.failRunQuery(db, job.id, job.runId, reason, new Date()));
      await db.batch([first!, ...rest]);
      throw unavailable(`${started.length} jobs could not be started (${reason}); try again`);
    }
  }
  return { started, inProgress: missed.filter((id) => existing.has(id)), notFound: missed.filter((id) => !existing.has(id)) };
}

/**
 * Sends the run's webhook again, as a new series of attempts with the same webhook-id, for a delivery
 * that is finished (DELIVERED or FAILED). If the message cannot be queued the sweep sends it.
 */
export async function redeliverWebhook(env: Env, id: string): Promise<Job> {
  const job = await transitions.restartDelivery(getDb(env.DB), id);
  if (!job) {
    const current = await getJob(env, id);
    throw conflict(
      current.deliveryStatus === "NONE"
        ? `Job '${id}' has no finished run to deliver`
        : `Job '${id}' has a delivery in progress (${current.deliveryStatus}); wait for it to finish`,
    );
  }
  try {
    await env.JOB_QUEUE.send({ jobId: job.id, runId: job.runId } satisfies JobMessage);
  } catch (err) {
    throw unavailable(`The redelivery of job '${id}' is recorded but could not be queued (${errorText(err)}); the sweep will send it within minutes`);
  }
  return job;
}

export const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function listLogs(env: Env, { jobId, outcome, ...page }: PageRequest & logsRepo.LogFilter) {
  const { rows, total } = await logsRepo.listLogs(getDb(env.DB), { jobId, outcome }, page.limit, offsetOf(page));
  return toPage(rows, total, page);
}

export async function listJobLogs(env: Env, jobId: string, page: PageRequest) {
  await getJob(env, jobId);
  return listLogs(env, { jobId, ...page });
}
