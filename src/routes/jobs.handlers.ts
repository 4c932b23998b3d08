/**
 * The job handlers, written once and mounted twice: under /api/jobs and on the original routes
 * (/create-job, /run-job/:jobId, ...). Each is validation plus one service call.
 */
import { createFactory } from "hono/factory";
import { z } from "zod";
import * as body from "../openapi/responses";
import * as jobs from "../jobs/service";
import * as runs from "../runs/service";
import * as schedules from "../schedules/service";
import type { AppEnv, Env } from "../env";
import { bulkAction } from "../jobs/bulk";
import { exportFile, exportJobs as exportStream } from "../jobs/export";
import { bulkActionSchema, bulkRunSchema, createJobSchema, type ExportJobsQuery, exportJobsQuery, idempotencyKey, jobIdParam, legacyListJobsQuery, listJobsQuery, updateJobSchema } from "../jobs/schemas";
import { jsonBody, validate } from "../lib/validate";
import { doc } from "../openapi/describe";

const factory = createFactory<AppEnv>();

const sha256Hex = async (text: string) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");

const ALREADY_CREATED = "Job already created with this Idempotency-Key";
const idempotencyOf = async (key: string | undefined, body: Promise<string>) => (key ? { key, requestHash: await sha256Hex(await body) } : undefined);

/** Create. With an Idempotency-Key, the same request repeated within 24 h answers the first job (200). */
export const createJob = factory.createHandlers(
  doc({
    summary: "Create a job",
    description:
      "Creates a job (PENDING), or a scheduled one with `runAt`, `delaySeconds` or a recurring `schedule` (SCHEDULED). With an `Idempotency-Key`, the same request repeated within 24 h answers the job first created (200); the same key with another body is a 409.",
    tag: "Jobs",
    ok: [201, "Job created", body.ok(body.job)],
    more: { 200: ["Already created with this Idempotency-Key: the first job", body.ok(body.job)] },
    errors: [409, 415],
  }),
  validate("header", z.object({ "idempotency-key": idempotencyKey })),
  jsonBody(),
  // A repeat finds its job before the body is checked (a runAt in it may have passed since).
  async (c, next) => {
    const idempotency = await idempotencyOf(c.req.valid("header")["idempotency-key"], c.req.text());
    const first = idempotency && (await jobs.findIdempotentJob(c.env, idempotency));
    if (first) return c.json({ success: true, message: ALREADY_CREATED, data: first }, 200);
    await next();
  },
  validate("json", createJobSchema),
  async (c) => {
    const idempotency = await idempotencyOf(c.req.valid("header")["idempotency-key"], c.req.text());
    const { job, created } = await jobs.createJob(c.env, c.req.valid("json"), idempotency);
    if (!created) return c.json({ success: true, message: ALREADY_CREATED, data: job }, 200);
    return c.json({ success: true, message: "Job created", data: job }, 201);
  },
);

export const listJobs = factory.createHandlers(
  doc({
    summary: "List and search jobs",
    description:
      "Newest first (or `sort=oldest`). `search` matches the task name or the payload's text, case-insensitively; filters combine with it. The total is counted ten pages ahead of the page and stops there (`totalExact: false`; `count=exact` counts every match, at the cost of reading them all). `pagination.nextCursor` reads the next page for the cost of one page at any depth; a `page` number skips that many jobs first.",
    tag: "Jobs",
    ok: [200, "A page of jobs", body.page(body.job)],
  }),
  validate("query", listJobsQuery),
  async (c) => {
    const { items, pagination } = await jobs.listJobs(c.env, c.req.valid("query"));
    return c.json({ success: true, data: items, pagination });
  },
);

/** The original `GET /get-jobs`: the same list, with exact totals (its clients loop over totalPages): a count of every match. */
export const legacyListJobs = factory.createHandlers(validate("query", legacyListJobsQuery), async (c) => {
  const { items, pagination } = await jobs.listJobs(c.env, c.req.valid("query"));
  return c.json({ success: true, data: items, pagination });
});

/** The export as a download, for the API and the dashboard alike. */
export function exportResponse(env: Env, query: ExportJobsQuery, now = new Date()) {
  const { mediaType, fileName } = exportFile(query.format, now);
  return new Response(exportStream(env, query), {
    headers: { "content-type": mediaType, "content-disposition": `attachment; filename="${fileName}"`, "cache-control": "no-store" },
  });
}

export const exportJobs = factory.createHandlers(
  doc({
    summary: "Export jobs (CSV or NDJSON)",
    description:
      "Every job the list's filters match, streamed as a download (CSV by RFC 4180, cells that start with = + - @ prefixed with '; or one JSON object per line). Same filters and order as the list.",
    tag: "Jobs",
    ok: [200, "The jobs, as a file", body.exportFile],
    
    content: ["text/csv", "application/x-ndjson"],
  }),
  validate("query", exportJobsQuery),
  (c) => exportResponse(c.env, c.req.valid("query")),
);

export const getJob = factory.createHandlers(
  doc({ summary: "Get a job", description: "The job, its latest run with its delivery, and its next run times.", tag: "Jobs", ok: [200, "The job", body.ok(body.jobWithNextRuns)], errors: [404] }),
  validate("param", jobIdParam),
  async (c) => {
    return c.json({ success: true, data: await jobs.getJobWithNextRuns(c.env, c.req.valid("param").id) });
  },
);

/** Cancel, pause, resume: one job, its current run or its schedule. */
const jobAction = (name: string, summary: string, description: string, act: (env: AppEnv["Bindings"], id: string) => Promise<unknown>) =>
  factory.createHandlers(
    doc({ summary, description, tag: "Jobs", ok: [200, name, body.ok(body.job)], errors: [404, 409] }),
    validate("param", jobIdParam),
    async (c) => {
      const job = await act(c.env, c.req.valid("param").id);
      return c.json({ success: true, message: name, data: job });
    },
  );

export const cancelJob = jobAction(
  "Run cancelled",
  "Cancel the scheduled or running run",
  "The run becomes CANCELLED; its queue message does nothing and no completion webhook is sent (a job.cancelled one if the job asks for it). A recurring job keeps its schedule: pause stops that. 409 when there is nothing to cancel, or when the run finished before it could be cancelled; a 409 changes nothing.",
  runs.cancelJob,
);
export const pauseJob = jobAction("Schedule paused", "Pause a recurring schedule", "No occurrence starts until it is resumed.", schedules.pauseJob);
export const resumeJob = jobAction("Schedule resumed", "Resume a recurring schedule", "Starts the schedule again from now: occurrences that fell while it was paused are not run.", schedules.resumeJob);

export const bulkJobs = factory.createHandlers(
  doc({
    summary: "Act on many jobs",
    description:
      "run, cancel, pause, resume or delete up to 100 jobs by id, each action in a fixed number of database round trips whatever the number of ids; each id is reported as done, refused (with the reason) or not found. A refused id changes nothing.",
    tag: "Jobs",
    ok: [200, "What was done", body.ok(body.bulkResult)],
    more: { 202: ["Runs started (action run)", body.ok(body.bulkResult)] },
    errors: [415],
  }),
  jsonBody(),
  validate("json", bulkActionSchema),
  async (c) => {
    const { action, ids } = c.req.valid("json");
    const result = await bulkAction(c.env, action, ids);
    return c.json({ success: true, message: `${action}: ${result.done.length} of ${ids.length} jobs`, data: result }, action === "run" ? 202 : 200);
  },
);

export const updateJob = factory.createHandlers(
  doc({
    summary: "Edit a job",
    description: "Runs keep what they started with: an edit applies from the next run on. A new timing replaces the runs still to come.",
    tag: "Jobs",
    ok: [200, "Job updated", body.ok(body.job)],
    errors: [404, 409, 415],
  }),
  validate("param", jobIdParam),
  jsonBody(),
  validate("json", updateJobSchema),
  async (c) => {
    const job = await jobs.updateJob(c.env, c.req.valid("param").id, c.req.valid("json"));
    return c.json({ success: true, message: "Job updated", data: job });
  },
);

const deleted = (id: string) => ({ success: true, message: "Job deleted", data: { id } }) as const;

export const deleteJob = factory.createHandlers(
  doc({
    summary: "Delete a job",
    description:
      "The job is gone from every read at once (404 from then on) and its Idempotency-Keys are free. Its runs to come and in progress are CANCELLED without a webhook. Webhooks its finished runs still owe (deliveries pending or retrying) are still delivered, at least once; then its runs, deliveries and log rows are removed in the background, in bounded batches.",
    tag: "Jobs",
    ok: [200, "Job deleted", body.ok(body.deleted)],
    errors: [404],
  }),
  validate("param", jobIdParam),
  async (c) => {
    const { id } = c.req.valid("param");
    await jobs.deleteJob(c.env, id);
    return c.json(deleted(id));
  },
);

/** The original `DELETE /delete-job?id=` form. */
export const deleteJobByQuery = factory.createHandlers(validate("query", jobIdParam), async (c) => {
  const { id } = c.req.valid("query");
  await jobs.deleteJob(c.env, id);
  return c.json(deleted(id));
});

export const runJob = factory.createHandlers(
  doc({
    summary: "Run a job now",
    description:
      "Starts a new run (IN_PROGRESS): it lasts the job's duration (JOB_DURATION_SECONDS), then completes and sends its webhook. With a concurrency limit set (MAX_CONCURRENT_RUNS; none by default) it is queued (SCHEDULED) while that many runs are in progress. 409 if a run is already in progress or waiting to.",
    tag: "Jobs",
    ok: [202, "Run started or queued", body.started],
    errors: [404, 409],
  }),
  validate("param", jobIdParam),
  async (c) => {
    const job = await jobs.runJob(c.env, c.req.valid("param").id);
    // Waiting (SCHEDULED) only when MAX_CONCURRENT_RUNS runs are in progress: it starts when a slot frees.
    const message = job.status === "IN_PROGRESS" ? "Job started" : "Job queued: every slot is busy (MAX_CONCURRENT_RUNS); it starts when one frees";
    return c.json({ success: true, message, status: job.status, data: job }, 202);
  },
);

export const runJobs = factory.createHandlers(
  doc({ summary: "Run many jobs", description: "Up to 100 ids in one call; jobs already running are listed, not started again.", tag: "Jobs", ok: [202, "Runs started", body.ok(body.bulkRunResult)], errors: [415] }),
  jsonBody(),
  validate("json", bulkRunSchema),
  async (c) => {
    const { started, inProgress, notFound } = await jobs.runJobs(c.env, c.req.valid("json").ids);
    return c.json(
      {
        success: true,
        message: `${started.length} jobs started`,
        data: { started: started.map((run) => ({ id: run.jobId, runId: run.id, runNumber: run.number, status: run.status, startedAt: run.startedAt })), inProgress, notFound },
      },
      202,
    );
  },
);
