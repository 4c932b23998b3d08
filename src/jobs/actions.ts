/**
 * What happened to each job of an action asked for one job or many (cancel, pause, resume, delete; the
 * bulk actions): done, refused with the reason (a 409 for one job) or not found (a 404).
 */
import { forJobs, inOrderOf } from "../db/shards";
import type { Env } from "../env";
import { conflict, notFound } from "../lib/errors";
import type { JobView } from "../runs/views";
import { getJob } from "./service";

/** What happened to each job of a request: done, refused (409, with the reason) or not found (404). */
export interface ActionResult {
  done: string[];
  refused: { id: string; message: string }[];
  notFound: string[];
}

export const emptyResult = (): ActionResult => ({ done: [], refused: [], notFound: [] });

/**
 * An action over jobs of any shards: `act` runs on each shard's jobs (side by side, db/shards.ts) and
 * the outcomes add up.
 */
export async function onEachShard(env: Env, ids: string[], act: (env: Env, ids: string[]) => Promise<ActionResult>): Promise<ActionResult> {
  const results = await forJobs(env, ids, act);
  const same = (id: string) => id;
  return {
    done: inOrderOf(ids, results.flatMap((r) => r.done), same),
    refused: inOrderOf(ids, results.flatMap((r) => r.refused), (r) => r.id),
    notFound: inOrderOf(ids, results.flatMap((r) => r.notFound), same),
  };
}

/** One job's outcome as the single-job routes answer it: a 404 or a 409, else the job as it now stands. */
export async function answerOne(env: Env, id: string, result: ActionResult): Promise<JobView> {
  if (result.notFound.length > 0) throw notFound("Job", id);
  const [refusal] = result.refused;
  if (refusal) throw conflict(refusal.message);
  return getJob(env, id);
}
