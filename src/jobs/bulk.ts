/**
 * Bulk actions by ids (up to 100 per call): run, cancel, pause, resume or delete, each in a fixed number
 * of D1 round trips, queue calls and at most one dispatch, however many ids (a Worker invocation has a
 * cap on subrequests). Each id is reported: done, refused (with the reason: not running, no schedule,
 * ...) or not found.
 */
import type { Env } from "../env";
import type { ActionResult } from "./actions";
import * as runs from "../runs/service";
import * as schedules from "../schedules/service";
import type { BulkAction } from "./schemas";
import * as jobs from "./service";

export type BulkResult = ActionResult;

export async function bulkAction(env: Env, action: BulkAction, ids: string[]): Promise<BulkResult> {
  const unique = [...new Set(ids)];
  switch (action) {
    case "run": {
      const { started, inProgress, notFound } = await jobs.runJobs(env, unique);
      return { done: started.map((run) => run.jobId), refused: inProgress.map((id) => ({ id, message: `Job '${id}' is already IN_PROGRESS or waiting to run` })), notFound };
    }
    case "cancel":
      return runs.cancelJobs(env, unique);
    case "pause":
      return schedules.pauseJobs(env, unique);
    case "resume":
      return schedules.resumeJobs(env, unique);
    case "delete": {
      const { deleted } = await jobs.deleteJobs(env, unique);
      const gone = new Set(deleted);
      return { done: deleted, refused: [], notFound: unique.filter((id) => !gone.has(id)) };
    }
  }
}
