/**
 * The job lifecycle, shared by the JSON API, the dashboard and the queue consumer. A job is a
 * definition; running it creates a run (runs/), whose queue message completes it after the job's
 * duration; the finished run's delivery carries its webhook (webhooks/).
 */
import { getDb } from "../db/client";
import type { Run } from "../db/schema";
import { getConfig, type Env, type JobMessage } from "../env";
import { conflict, notFound, unavailable } from "../lib/errors";
import { newJobId } from "../lib/ids";
import { offsetOf, toPage, type PageRequest } from "../lib/pagination";
import { failRuns } from "../runs/finish";
import { startRuns } from "../runs/transitions";
import { jobView, type JobView } from "../runs/views";
import * as logsRepo from "../webhooks/repository";
import * as repo from "./repository";
import type { CreateJobInput, ListJobsQuery, UpdateJobInput } from "./schemas";

export async function createJob(env: Env, input: CreateJobInput): Promise<JobView> {
  const job = await repo.insertJob(getDb(env.DB), { id: newJobId(), ...input }, new Date());
  return jobView(job, null, null);
}

export async function getJob(env: Env, id: string): Promise<JobView> {
  const job = await repo.findJob(getDb(env.DB), id);
  if (!job) throw notFound("Job", id);
  return job;
}

/** A page of jobs. A search counts its matches through ten pages unless `exactCount` asks for all of them. */
export async function listJobs(env: Env, { limit, page, sort, count, ...filter }: ListJobsQuery) {
  const { rows, total, totalExact } = await repo.listJobs(getDb(env.DB), filter, sort, limit, offsetOf({ limit, page }), count === "exact");
  return toPage(rows, total, { limit, page }, totalExact);
}

/** Edits the definition. Runs keep what they started with: an edit applies from the next run on. */
export async function updateJob(env: Env, id: string, input: UpdateJobInput): Promise<JobView> {
  if (!(await repo.updateJobFields(getDb(env.DB), id, input, new Date()))) throw notFound("Job", id);
  return getJob(env, id);
}

export async function deleteJob(env: Env, id: string): Promise<void> {
  if (!(await repo.deleteJob(getDb(env.DB), id))) throw notFound("Job", id);
}

const messageOf = (run: Run): JobMessage => ({ jobId: run.jobId, run: run.number });

/**
 * Starts a run: a new run record and the job IN_PROGRESS, then a message is queued to arrive after the
 * job's duration. If the message cannot be queued the run is failed with the reason, so the job is
 * never left IN_PROGRESS with nothing coming to finish it.
 */
export async function runJob(env: Env, id: string): Promise<JobView> {
  const { jobDurationSeconds, webhookUrl } = getConfig(env); // before any write: a bad config must change nothing
  const db = getDb(env.DB);
  const now = new Date();
  const [started] = await startRuns(db, [id], now, new Date(now.getTime() + jobDurationSeconds * 1000));
  if (!started) {
    await getJob(env, id);
    throw conflict(`Job '${id}' is already IN_PROGRESS`);
  }
  try {
    await env.JOB_QUEUE.send(messageOf(started.run), { delaySeconds: jobDurationSeconds });
  } catch (err) {
    // The run is failed with the reason (its job.failed webhook goes out via the sweep once the
    // queue is back). Should this write fail too, the sweep finds the run overdue and recovers it.
    const reason = `could not enqueue the run: ${errorText(err)}`;
    await failRuns(db, [{ jobId: id, number: started.run.number }], reason, new Date(), webhookUrl);
    throw unavailable(`Job '${id}' could not be started (${reason}); try again`);
  }
  return jobView(started.job, started.run, null);
}

export interface BulkRunResult {
  started: Run[];
  /** Already IN_PROGRESS: left as they are. */
  inProgress: string[];
  notFound: string[];
}

/**
 * Starts many runs at once: one D1 round trip for the rows, one `sendBatch` for the messages. Jobs
 * already running are reported, not restarted. If the messages cannot be queued, every run started
 * here is failed with the reason and the call answers 503.
 */
export async function runJobs(env: Env, ids: string[]): Promise<BulkRunResult> {
  const { jobDurationSeconds, webhookUrl } = getConfig(env);
  const db = getDb(env.DB);
  const now = new Date();
  const started = (await startRuns(db, ids, now, new Date(now.getTime() + jobDurationSeconds * 1000))).map((s) => s.run);
  const startedIds = new Set(started.map((run) => run.jobId));
  const missed = ids.filter((id) => !startedIds.has(id));
  const existing = new Set(missed.length > 0 ? await repo.findExisting(db, missed) : []);
  if (started.length > 0) {
    try {
      await env.JOB_QUEUE.sendBatch(started.map((run) => ({ body: messageOf(run), delaySeconds: jobDurationSeconds })));
    } catch (err) {
      const reason = `could not enqueue the run: ${errorText(err)}`;
      await failRuns(db, started.map((run) => ({ jobId: run.jobId, number: run.number })), reason, new Date(), webhookUrl);
      throw unavailable(`${started.length} jobs could not be started (${reason}); try again`);
    }
  }
  return { started, inProgress: missed.filter((id) => existing.has(id)), notFound: missed.filter((id) => !existing.has(id)) };
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
