/** The resource API: /api/jobs, /api/runs and /api/logs, all behind the API token. */
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { apiAuth } from "../security/api-auth";
import * as h from "./jobs.handlers";
import * as logs from "./logs.handlers";
import * as runs from "./runs.handlers";
import { stats } from "./stats.handlers";

export const api = new Hono<AppEnv>()
  .use("*", apiAuth)
  .post("/jobs", ...h.createJob)
  .post("/jobs/run", ...h.runJobs)
  .post("/jobs/bulk", ...h.bulkJobs)
  .get("/jobs", ...h.listJobs)
  .get("/jobs/export", ...h.exportJobs)
  .get("/jobs/:id", ...h.getJob)
  .patch("/jobs/:id", ...h.updateJob)
  .delete("/jobs/:id", ...h.deleteJob)
  .post("/jobs/:id/run", ...h.runJob)
  .post("/jobs/:id/cancel", ...h.cancelJob)
  .post("/jobs/:id/pause", ...h.pauseJob)
  .post("/jobs/:id/resume", ...h.resumeJob)
  .post("/jobs/:id/redeliver", ...runs.redeliverJob)
  .get("/jobs/:id/runs", ...runs.listJobRuns)
  .get("/jobs/:id/logs", ...logs.listJobLogs)
  .get("/runs/:runId", ...runs.getRun)
  .post("/runs/:runId/redeliver", ...runs.redeliverRun)
  .get("/logs", ...logs.listLogs)
  .get("/stats", ...stats);
