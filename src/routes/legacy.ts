/** The original Express routes, kept working as aliases onto the same handlers as /api. */
import { Hono } from "hono";
import type { AppEnv } from "../env";
import * as h from "./jobs.handlers";

export const legacy = new Hono<AppEnv>()
  .post("/create-job", ...h.createJob)
  .post("/run-job/:id", ...h.runJob)
  .get("/get-jobs", ...h.listJobs)
  .put("/update-job/:id", ...h.updateJob)
  .delete("/delete-job/:id", ...h.deleteJob)
  .delete("/delete-job", ...h.deleteJobByQuery)
  .get("/get-logs", ...h.listLogs)
  .get("/get-logs/:id", ...h.listJobLogs);
