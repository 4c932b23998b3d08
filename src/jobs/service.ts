/**
 * The job lifecycle, shared by the JSON API, the dashboard and the queue consumer. A job is a
 * definition; running it (now, at a time, after a delay or on a schedule) makes a run (runs/), which
 * the dispatcher starts when it is due and a slot is free; the finished run's delivery carries its
 * webhook (webhooks/).
 */
import { and, eq, gt } from "drizzle-orm";
import * as repo from "./repository";
import { getDb } from "../db/client";
import { idempotencyKeys, type Run } from "../db/schema";
import { type Env, getConfig } from "../env";
import { conflict, invalid, notFound, unavailable } from "../lib/errors";
import { newJobId } from "../lib/ids";
import { logCancelled, logFailure, logScheduled, runFields } from "../lib/log";
import { readPage } from "../lib/pagination";
import { acrossShards } from "../db/merge";
import { eachShard, forJobs, inOrderOf, jobIdOnShard, onJobShard, onShard, shardForCreate } from "../db/shards";
import { dispatch, dispatchInBackground, queueCompletions, sendStartMessages } from "../runs/dispatch";
import { cancelScheduledOf, cancelUnfinishedOf, insertRuns, replanRuns } from "../runs/lifecycle";
import { countInProgress } from "../runs/repository";
import { type JobView, jobView } from "../runs/views";
import { nextRunsOf } from "../schedules/occurrences";
import { insertTimingRun, timingOf } from "../schedules/timing";
import { unsafeWebhookTarget } from "../security/webhook-target";
import type { CreateJobInput, ListJobsQuery, UpdateJobInput } from "./schemas";
import * as state from "./state";

/** How long an Idempotency-Key is remembered. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

export interface Idempotency {
  key: string;
  /** SHA-256 of the request body, hex. */
  requestHash: string;
}

/** A job's own webhook target must pass the rules WEBHOOK_URL passes (checked again at each send). */
function checkWebhookUrl(env: Env, url: string | null | undefined) {
  if (!url) return;
  const problem = unsafeWebhookTarget(url, getConfig(env).allowLocalWebhooks);
  if (problem) throw invalid(`Invalid request body: webhookUrl: ${problem}`);
}

export interface Created {
  job: JobView;
  /** False when an Idempotency-Key named a job created before (the same request, repeated). */
  created: boolean;
}

export async function createJob(env: Env, input: CreateJobInput, idempotency?: Idempotency): Promise<Created> {
  checkWebhookUrl(env, input.webhookUrl);
  const shard = shardForCreate(env, idempotency?.key);
  env = onShard(env, shard);
  const db = getDb(env.DB);
  const now = new Date();
  const id = jobIdOnShard(newJobId(), shard);
  const timing = timingOf(id, input, now);
  const job = {
    id,
    taskName: input.taskName,
    payload: input.payload,
    priority: input.priority,
    webhookUrl: input.webhookUrl ?? null,
    notifyOnCancel: input.notifyOnCancel ?? false,
    schedule: timing.schedule?.schedule ?? null,
    scheduleCursor: timing.schedule?.scheduleCursor ?? null,
  };
  const since = new Date(now.getTime() - IDEMPOTENCY_WINDOW_MS);
  const insert = state.insertJob(db, job, now, idempotency ? { unlessKey: { key: idempotency.key, since } } : {});
  const remember = idempotency ? [state.rememberKey(db, { ...idempotency, jobId: id }, now, since)] : [];
  // A plain create is one statement; a run to make, or a key to remember, go in the same batch (the run
  // joins the job row: when the job was not inserted, neither is the run).
  const { inserted, made } = timing.run
    ? await db.batch([insert, insertTimingRun(db, timing), ...state.refreshJobs(db, [id], now), ...remember]).then(([inserted, made]) => ({ inserted, made }))
    : await db.batch([insert, ...remember]).then(([inserted]) => ({ inserted, made: [] }));
  if (idempotency) {
    // Another create with this key got in first (two at once): its job is the answer.
    const first = await findIdempotentJob(env, idempotency, now, id);
    if (first) return { job: first, created: false };
  }
  if (!timing.run) return { job: jobView(inserted[0]!, null, null), created: true };
  await startTiming(env, made, now);
  return { job: await getJob(env, id), created: true };
}

/**
 * The job a create with this Idempotency-Key made within 24 h, if any; a 409 when that create had
 * another body. Checked before the body is (a repeat must find its job even once its runAt has passed),
 * and after a create (`unlessJobId`: the job it made) in case another create with the key got in first.
 */
export async function findIdempotentJob(env: Env, idempotency: Idempotency, now = new Date(), unlessJobId?: string): Promise<JobView | undefined> {
  const since = new Date(now.getTime() - IDEMPOTENCY_WINDOW_MS);
  // The key's shard is where a create with it puts its job; every shard is asked (side by side, one
  // index probe each), because the key's shard changes when shards are added and a first create made
  // before that is still remembered where it went.
  const home = shardForCreate(env, idempotency.key);
  const found = await Promise.all(
    eachShard(env).map((shard) =>
      getDb(shard.DB)
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.key, idempotency.key), gt(idempotencyKeys.createdAt, since)))
        .get(),
    ),
  );
  const record = found[home] ?? found.find((one) => one !== undefined);
  if (!record || record.jobId === unlessJobId) return undefined;
  if (record.requestHash !== idempotency.requestHash) throw conflict(`Idempotency-Key '${idempotency.key}' was used within 24 h for a different request body`);
  return getJob(env, record.jobId);
}

/** Queues the start message of a run just made, or starts it at once when it is already due. */
async function startTiming(env: Env, made: Run[], now: Date) {
  if (made.length === 0) return;
  logScheduled(made);
  // Due now: started at once (a completion the queue refuses is queued again by the sweep: the job exists, so the create stands).
  if (made.some((run) => run.dueAt.getTime() <= now.getTime())) await dispatch(env, now);
  else await sendStartMessages(env, made, now).catch((err: unknown) => logFailure("queue.send_failed", { runs: made.map(runFields), what: "start message; the sweep starts the run when due" }, err));
}

export async function getJob(env: Env, id: string): Promise<JobView> {
  const job = await repo.findJob(getDb(onJobShard(env, id).DB), id);
  if (!job) throw notFound("Job", id);
  return job;
}

/** How many upcoming run times a job shows. */
export const NEXT_RUNS_SHOWN = 5;

/** The job with its next run times: the next 5 occurrences of its schedule, or its one run to come. */
export async function getJobWithNextRuns(env: Env, id: string) {
  const job = await getJob(env, id);
  return { ...job, nextRuns: nextRunsOf(job, NEXT_RUNS_SHOWN) };
}

/**
 * A page of jobs. The total is counted ten pages ahead unless `count=exact` asks for every match. With
 * several shards each gives its page and the pages merge (db/merge.ts).
 */
export async function listJobs(env: Env, { limit, page, cursor, sort, count, ...filter }: ListJobsQuery) {
  const read = acrossShards(env, limit, sort === "newest" ? "desc" : "asc", (db, n, start, from, countLimit) => repo.listJobs(db, filter, sort, n, start, from, countLimit), {
    keys: (db, n, start, from, countLimit) => repo.listJobKeys(db, filter, sort, n, start, from, countLimit),
    rows: (db, keys) => repo.jobsByKeys(db, keys, sort),
  });
  return readPage({ limit, page, cursor }, read, {
    list: "jobs",
    sort,
    exact: count === "exact",
  });
}

/**
 * Edits the definition, its webhook target and its timing. Runs keep what they started with: an edit
 * applies from the next run on, including the runs already planned (SCHEDULED). A new timing (runAt,
 * delaySeconds or schedule) replaces the runs still to come. The batch has the same five statements
 * whatever the edit (one with an empty list of ids matches no row), so its results are typed by place.
 */
export async function updateJob(env: Env, id: string, input: UpdateJobInput): Promise<JobView> {
  checkWebhookUrl(env, input.webhookUrl);
  env = onJobShard(env, id);
  const db = getDb(env.DB);
  const now = new Date();
  const { runAt, delaySeconds, schedule, ...fields } = input;
  const timing = timingOf(id, { runAt, delaySeconds, schedule }, now);
  const redefined = fields.taskName !== undefined || fields.payload !== undefined || fields.priority !== undefined;
  const [, cancelled, made] = await db.batch([
    state.updateJobFields(db, id, { ...fields, ...timing.schedule }, now),
    // The runs still to come are cancelled only when the timing changes, before the new run is made.
    cancelScheduledOf(db, timing.replaces ? [id] : [], timing.replaces ?? "", now),
    insertTimingRun(db, timing),
    // Runs still to come take the new definition (after any that the new timing replaces are cancelled).
    replanRuns(db, redefined ? [id] : []),
    ...state.refreshJobs(db, [id], now),
  ]);
  logCancelled(cancelled);
  await startTiming(env, made, now);
  return getJob(env, id);
}

export async function deleteJob(env: Env, id: string): Promise<void> {
  const { deleted } = await deleteJobs(env, [id]);
  if (deleted.length === 0) throw notFound("Job", id);
}

/** Why a deleted job's unfinished runs were stopped (their runs' failure reason). */
export const DELETED_REASON = "the job was deleted";

/**
 * Deletes jobs (one D1 round trip for up to 100): each is gone from every read at once, its runs to
 * come and in progress are CANCELLED without a webhook, and its Idempotency-Keys are freed. Webhooks
 * its finished runs still owe (deliveries under way) are delivered as promised; the purge removes its
 * runs, deliveries and log rows in bounded batches once they are (background/purge.ts). Returns the ids
 * deleted; the others did not exist.
 */
export async function deleteJobs(env: Env, ids: string[]): Promise<{ deleted: string[] }> {
  const answers = await forJobs(env, ids, deleteOnShard);
  return { deleted: inOrderOf(ids, answers.flatMap((answer) => answer.deleted), (id) => id) };
}

async function deleteOnShard(env: Env, ids: string[]): Promise<{ deleted: string[] }> {
  const db = getDb(env.DB);
  const now = new Date();
  // Marked first: a run call or a dispatch after this batch finds the job gone and makes no run.
  const [marked, , cancelledScheduled, cancelledRunning] = await db.batch([
    state.markDeleted(db, ids, now),
    state.forgetKeysOf(db, ids),
    ...cancelUnfinishedOf(db, ids, DELETED_REASON, now),
  ]);
  logCancelled([...cancelledScheduled, ...cancelledRunning]);
  // Runs of them held slots: runs waiting for one start now (else the next sweep starts them).
  if (cancelledRunning.length > 0 && getConfig(env).maxConcurrentRuns > 0) await dispatchInBackground(env, now, { jobIds: ids, after: "delete" });
  return { deleted: marked.map((row) => row.id) };
}

/**
 * Runs the job now: a run due at once, made IN_PROGRESS by the same batch that inserts it when a slot
 * is free and no run waits ahead of it (runs/lifecycle insertRuns); else it waits its turn SCHEDULED
 * and the dispatcher starts it. 409 while the job runs or already waits to. If its message cannot be
 * queued the run fails with the reason (503).
 */
export async function runJob(env: Env, id: string): Promise<JobView> {
  const { started, notFound: missing, view } = await makeRuns(env, [id], (reason) => `Job '${id}' could not be started (${reason}); try again`);
  if (missing.length > 0) throw notFound("Job", id);
  if (started.length === 0) {
    const job = await getJob(env, id);
    throw conflict(job.status === "IN_PROGRESS" ? `Job '${id}' is already IN_PROGRESS` : `Job '${id}' is already waiting to run (due ${job.nextRunAt?.toISOString()})`);
  }
  return view ?? getJob(env, id);
}

export interface BulkRunResult {
  /** The runs made: IN_PROGRESS when a slot was free, else SCHEDULED (waiting their turn). */
  started: Run[];
  /** Already IN_PROGRESS (or waiting to run): left as they are. */
  inProgress: string[];
  notFound: string[];
}

/**
 * Runs many jobs now in one D1 round trip: each run is made IN_PROGRESS at once where the dispatcher
 * would start it (a free slot, nobody waiting ahead), and its completion queued (one sendBatch); runs
 * that must wait are made SCHEDULED and left to the dispatcher. Jobs already running are reported, not
 * run again.
 */
export async function runJobs(env: Env, ids: string[]): Promise<BulkRunResult> {
  const answers = await forJobs(env, ids, (shardEnv, group) => makeRuns(shardEnv, group, (reason) => `${ids.length} jobs could not be started (${reason}); try again`));
  const same = (id: string) => id;
  return {
    started: inOrderOf(ids, answers.flatMap((answer) => answer.started), (run) => run.jobId),
    inProgress: inOrderOf(ids, answers.flatMap((answer) => answer.inProgress), same),
    notFound: inOrderOf(ids, answers.flatMap((answer) => answer.notFound), same),
  };
}

/** runJobs, and the first job as it stands after (read in the same round trip), unless a dispatch changed it since. */
async function makeRuns(env: Env, ids: string[], unstarted: (reason: string) => string): Promise<BulkRunResult & { view?: JobView }> {
  env = onJobShard(env, ids[0] ?? ""); // one shard's ids (runJobs groups them)
  const { maxConcurrentRuns, jobDurationSeconds } = getConfig(env); // before any write: a bad configuration must change nothing
  const db = getDb(env.DB);
  const now = new Date();
  const start = { now, durationMs: jobDurationSeconds * 1000, limit: maxConcurrentRuns };
  const [made, , , [running], viewRows] = await db.batch([
    insertRuns(
      db,
      ids.map((jobId) => ({ jobId, dueAt: now, occurrenceAt: null, expectedAt: null })),
      { unlessBusyAt: now, start },
    ),
    ...state.refreshJobs(db, ids, now, { started: true, waitingOnly: true }),
    countInProgress(db, maxConcurrentRuns),
    repo.jobQuery(db, ids[0] ?? ""),
  ]);
  const madeIds = new Set(made.map((run) => run.jobId));
  const missed = ids.filter((id) => !madeIds.has(id));
  const existing = new Set(missed.length > 0 ? await repo.findExisting(db, missed) : []);
  // A run made SCHEDULED because every slot was taken waits for a completion, which sees it and starts
  // it (batches are serial: one of the two sees the other). One made SCHEDULED with a slot free waits
  // behind another due run: the dispatcher starts them now, best place in line first.
  const slotFree = maxConcurrentRuns === 0 || (running?.n ?? 0) < maxConcurrentRuns;
  const dispatchNow = slotFree && made.some((run) => run.status === "SCHEDULED");
  const startedNow = made.filter((run) => run.status === "IN_PROGRESS");
  logScheduled(made);
  try {
    await queueCompletions(env, startedNow, "fail");
    if (dispatchNow) await dispatch(env, now);
  } catch (err) {
    // The runs that failed freed their slots: a run waiting for one (another call's) starts now.
    if (maxConcurrentRuns > 0) await dispatchInBackground(env, undefined, { jobIds: ids, after: "failed run call" });
    throw unavailable(unstarted(`could not enqueue the run: ${errorText(err)}`));
  }
  const current = dispatchNow ? await repo.findRuns(db, made.map((run) => run.id)) : made;
  return {
    started: current,
    inProgress: missed.filter((id) => existing.has(id)),
    notFound: missed.filter((id) => !existing.has(id)),
    view: dispatchNow ? undefined : repo.jobViewOf(viewRows),
  };
}

export const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
