/** The resource API: /api/jobs and /api/logs. */
import { Hono } from "hono";
import type { AppEnv } from "../env";
import * as h from "./jobs.handlers";

export const api = new Hono<AppEnv>()
  .post("/jobs", ...h.createJob)
  .get("/jobs", ...h.listJobs)
  .get("/jobs/:id", ...h.getJob)
  .patch("/jobs/:id", ...h.updateJob)
  .delete("/jobs/:id", ...h.deleteJob)
  .post("/jobs/:id/run", ...h.runJob)
  .post("/jobs/:id/redeliver", ...h.redeliverJob)
  .get("/jobs/:id/logs", ...h.listJobLogs)
  .get("/logs", ...h.listLogs);
