/**
 * The job handlers, written once and mounted twice: under /api/jobs and on the original routes
 * (/create-job, /run-job/:jobId, ...). Each is validation plus one service call.
 */
import { createFactory } from "hono/factory";
import { z } from "zod";
import type { AppEnv, Env } from "../env";
import { bulkActionSchema, bulkRunSchema, createJobSchema, exportJobsQuery, idempotencyKey, jobIdParam, legacyListJobsQuery, listJobsQuery, listLogsQuery, pageQuery, runIdParam, updateJobSchema } from "../jobs/schemas";
import { bulkAction } from "../jobs/bulk";
import { exportFile, exportJobs as exportStream } from "../jobs/export";
import * as jobs from "../jobs/service";
import * as runs from "../runs/service";
import * as schedules from "../schedules/service";
import type { ExportJobsQuery } from "../jobs/schemas";
import { jsonBody, validate } from "../lib/validate";

const factory = createFactory<AppEnv>();

const sha256Hex = async (text: string) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");

/** Create. With an Idempotency-Key, the same request repeated within 24 h answers the first job (200). */
export const createJob = factory.createHandlers(
  validate("header", z.object({ "idempotency-key": idempotencyKey })),
  jsonBody(),
  validate("json", createJobSchema),
  async (c) => {
    const key = c.req.valid("header")["idempotency-key"];
    const idempotency = key ? { key, requestHash: await sha256Hex(await c.req.text()) } : undefined;
    const { job, created } = await jobs.createJob(c.env, c.req.valid("json"), idempotency);
    if (!created) return c.json({ success: true, message: "Job already created with this Idempotency-Key", data: job }, 200);
    return c.json({ success: true, message: "Job created", data: job }, 201);
  },
);

export const listJobs = factory.createHandlers(validate("query", listJobsQuery), async (c) => {
  const { items, pagination } = await jobs.listJobs(c.env, c.req.valid("query"));
  return c.json({ success: true, data: items, pagination });
});

/** The original `GET /get-jobs`: the same list, with exact totals. */
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

export const exportJobs = factory.createHandlers(validate("query", exportJobsQuery), (c) => exportResponse(c.env, c.req.valid("query")));

export const getJob = factory.createHandlers(validate("param", jobIdParam), async (c) => {
  return c.json({ success: true, data: await jobs.getJobWithNextRuns(c.env, c.req.valid("param").id) });
});

/** Cancel, pause, resume: one job, its current run or its schedule. */
const jobAction = (name: string, act: (env: AppEnv["Bindings"], id: string) => Promise<unknown>) =>
  factory.createHandlers(validate("param", jobIdParam), async (c) => {
    const job = await act(c.env, c.req.valid("param").id);
    return c.json({ success: true, message: name, data: job });
  });

export const cancelJob = jobAction("Run cancelled", schedules.cancelJob);
export const pauseJob = jobAction("Schedule paused", schedules.pauseJob);
export const resumeJob = jobAction("Schedule resumed", schedules.resumeJob);

export const bulkJobs = factory.createHandlers(jsonBody(), validate("json", bulkActionSchema), async (c) => {
  const { action, ids } = c.req.valid("json");
  const result = await bulkAction(c.env, action, ids);
  return c.json({ success: true, message: `${action}: ${result.done.length} of ${ids.length} jobs`, data: result }, action === "run" ? 202 : 200);
});

export const updateJob = factory.createHandlers(
  validate("param", jobIdParam),
  jsonBody(),
  validate("json", updateJobSchema),
  async (c) => {
    const job = await jobs.updateJob(c.env, c.req.valid("param").id, c.req.valid("json"));
    return c.json({ success: true, message: "Job updated", data: job });
  },
);

const deleted = (id: string) => ({ success: true, message: "Job deleted", data: { id } }) as const;

export const deleteJob = factory.createHandlers(validate("param", jobIdParam), async (c) => {
  const { id } = c.req.valid("param");
  await jobs.deleteJob(c.env, id);
  return c.json(deleted(id));
});

/** The original `DELETE /delete-job?id=` form. */
export const deleteJobByQuery = factory.createHandlers(validate("query", jobIdParam), async (c) => {
  const { id } = c.req.valid("query");
  await jobs.deleteJob(c.env, id);
  return c.json(deleted(id));
});

export const runJob = factory.createHandlers(validate("param", jobIdParam), async (c) => {
  const job = await jobs.runJob(c.env, c.req.valid("param").id);
  // Waiting (SCHEDULED) only when MAX_CONCURRENT_RUNS runs are in progress: it starts when a slot frees.
  const message = job.status === "IN_PROGRESS" ? "Job started" : "Job queued: every slot is busy (MAX_CONCURRENT_RUNS); it starts when one frees";
  return c.json({ success: true, message, status: job.status, data: job }, 202);
});

export const runJobs = factory.createHandlers(jsonBody(), validate("json", bulkRunSchema), async (c) => {
  const { started, inProgress, notFound } = await jobs.runJobs(c.env, c.req.valid("json").ids);
  return c.json(
    {
      success: true,
      message: `${started.length} jobs started`,
      data: { started: started.map((run) => ({ id: run.jobId, runId: run.id, runNumber: run.number, status: run.status, startedAt: run.startedAt })), inProgress, notFound },
    },
    202,
  );
});

/** Redelivers the webhook of the job's latest run. */
export const redeliverJob = factory.createHandlers(validate("param", jobIdParam), async (c) => {
  const run = await runs.redeliverLatest(c.env, c.req.valid("param").id);
  return c.json({ success: true, message: "Redelivery queued", data: run }, 202);
});

export const listJobRuns = factory.createHandlers(validate("param", jobIdParam), validate("query", z.object(pageQuery)), async (c) => {
  const { items, pagination } = await runs.listJobRuns(c.env, c.req.valid("param").id, c.req.valid("query"));
  return c.json({ success: true, data: items, pagination });
});

export const getRun = factory.createHandlers(validate("param", runIdParam), async (c) => {
  return c.json({ success: true, data: await runs.getRun(c.env, c.req.valid("param").runId) });
});

export const redeliverRun = factory.createHandlers(validate("param", runIdParam), async (c) => {
  const run = await runs.redeliverRun(c.env, c.req.valid("param").runId);
  return c.json({ success: true, message: "Redelivery queued", data: run }, 202);
});

export const listJobLogs = factory.createHandlers(
  validate("param", jobIdParam),
  validate("query", z.object(pageQuery)),
  async (c) => {
    const { items, pagination } = await jobs.listJobLogs(c.env, c.req.valid("param").id, c.req.valid("query"));
    return c.json({ success: true, data: items, pagination });
  },
);

export const listLogs = factory.createHandlers(
  validate("query", listLogsQuery),
  async (c) => {
    const { items, pagination } = await jobs.listLogs(c.env, c.req.valid("query"));
    return c.json({ success: true, data: items, pagination });
  },
);
