/**
 * Bulk actions by ids (up to 100 per call): run, cancel, pause, resume or delete. Runs go together (one
 * round trip and one dispatch); the others job by job. Each id is reported: done, refused (with the
 * reason: not running, no schedule, ...) or not found.
 */
import type { Env } from "../env";
import { DomainError } from "../lib/errors";
import * as schedules from "../schedules/service";
import type { BulkAction } from "./schemas";
import * as jobs from "./service";

export interface BulkResult {
  done: string[];
  refused: { id: string; message: string }[];
  notFound: string[];
}

const each: Record<Exclude<BulkAction, "run">, (env: Env, id: string) => Promise<unknown>> = {
  cancel: schedules.cancelJob,
  pause: schedules.pauseJob,
  resume: schedules.resumeJob,
  delete: jobs.deleteJob,
};

export async function bulkAction(env: Env, action: BulkAction, ids: string[]): Promise<BulkResult> {
  if (action === "run") {
    const { started, inProgress, notFound } = await jobs.runJobs(env, ids);
    return { done: started.map((run) => run.jobId), refused: inProgress.map((id) => ({ id, message: `Job '${id}' is already IN_PROGRESS or waiting to run` })), notFound };
  }
  const result: BulkResult = { done: [], refused: [], notFound: [] };
  for (const id of ids) {
    try {
      await each[action](env, id);
      result.done.push(id);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      if (err.kind === "not_found") result.notFound.push(id);
      else result.refused.push({ id, message: err.message });
    }
  }
  return result;
}
