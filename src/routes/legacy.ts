/** The original Express routes, kept working as aliases onto the same handlers as /api (same token). */
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { apiAuth } from "../security/api-auth";
import * as h from "./jobs.handlers";
import * as logs from "./logs.handlers";

export const legacy = new Hono<AppEnv>()
  .post("/create-job", apiAuth, ...h.createJob)
  .post("/run-job/:id", apiAuth, ...h.runJob)
  .get("/get-jobs", apiAuth, ...h.legacyListJobs)
  .put("/update-job/:id", apiAuth, ...h.updateJob)
  .delete("/delete-job/:id", apiAuth, ...h.deleteJob)
  .delete("/delete-job", apiAuth, ...h.deleteJobByQuery)
  .get("/get-logs", apiAuth, ...logs.listLogs)
  .get("/get-logs/:id", apiAuth, ...logs.listJobLogs);
