/** The delivery log as the API and the dashboard read it: every attempt (from every shard), or a job's. */
import * as logsRepo from "./repository";
import { acrossShards } from "../db/merge";
import { onJobShard } from "../db/shards";
import type { Env } from "../env";
import { getJob } from "../jobs/service";
import { type PageRequest, readPage } from "../lib/pagination";

export async function listLogs(env: Env, { jobId, outcome, ...page }: PageRequest & logsRepo.LogFilter) {
  // A job's attempts are all in its shard.
  if (jobId !== undefined) env = onJobShard(env, jobId);
  const read = acrossShards(env, page.limit, "desc", (db, limit, start, from, countLimit) => logsRepo.listLogs(db, { jobId, outcome }, limit, start, from, countLimit), {
    keys: (db, limit, start, from, countLimit) => logsRepo.listLogKeys(db, { jobId, outcome }, limit, start, from, countLimit),
    rows: (db, keys) => logsRepo.logsByKeys(db, keys),
  });
  return readPage(page, read, { list: "logs" });
}

export async function listJobLogs(env: Env, jobId: string, page: PageRequest) {
  await getJob(env, jobId);
  return listLogs(env, { jobId, ...page });
}
