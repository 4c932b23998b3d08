/** The delivery log as the API and the dashboard read it: every attempt, or a job's. */
import * as logsRepo from "./repository";
import { getDb } from "../db/client";
import type { Env } from "../env";
import { getJob } from "../jobs/service";
import { type PageRequest, readPage } from "../lib/pagination";

export async function listLogs(env: Env, { jobId, outcome, ...page }: PageRequest & logsRepo.LogFilter) {
  const db = getDb(env.DB);
  return readPage(page, (start, from, countLimit) => logsRepo.listLogs(db, { jobId, outcome }, page.limit, start, from, countLimit), { list: "logs" });
}

export async function listJobLogs(env: Env, jobId: string, page: PageRequest) {
  await getJob(env, jobId);
  return listLogs(env, { jobId, ...page });
}
