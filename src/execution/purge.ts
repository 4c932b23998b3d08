/**
 * The purge (a phase of every sweep): removes what deleted jobs leave behind, in bounded batches. A
 * delete hides its job at once and stops its runs (jobs/service.ts deleteJobs); its runs, deliveries and
 * log rows go here, `runBatch` runs at a time, each batch one D1 transaction that deletes log rows
 * first, then deliveries without logs, then runs without either, so a batch cut short leaves nothing
 * orphaned. A delivery still under way is left to finish (its webhook is owed); the job's row goes last.
 */
import { getDb } from "../db/client";
import { deleteDeliveriesOfDeletedJob } from "../deliveries/transitions";
import type { Env } from "../env";
import { deletePurgedJob, findDeletedJobs } from "../jobs/repository";
import { deleteRunsOfDeletedJob } from "../runs/retention";
import { deleteLogsOfDeletedJob } from "../webhooks/repository";

export interface PurgeLimits {
  /** Most runs (and deliveries) deleted per batch. */
  runBatch: number;
  /** Most log rows deleted per batch. */
  logBatch: number;
  /** Batches per pass; what is left goes in the next pass (the next sweep). */
  maxBatches: number;
  /** A pass starts no batch after this long (ms). */
  budgetMs: number;
}

/** At most 10 000 runs a pass (a sweep, every minute), each batch 500 runs or 2 000 log rows. */
export const PURGE_LIMITS: PurgeLimits = { runBatch: 500, logBatch: 2000, maxBatches: 20, budgetMs: 10_000 };

export interface PurgeReport {
  jobsPurged: number;
  runsDeleted: number;
  deliveriesDeleted: number;
  logsDeleted: number;
}

const changes = (result: unknown) => (result as D1Result).meta.changes;

export async function purge(env: Env, limits: PurgeLimits = PURGE_LIMITS): Promise<PurgeReport> {
  const db = getDb(env.DB);
  const report: PurgeReport = { jobsPurged: 0, runsDeleted: 0, deliveriesDeleted: 0, logsDeleted: 0 };
  const until = Date.now() + limits.budgetMs;
  let batches = 0;
  for (const { id } of await findDeletedJobs(db, limits.maxBatches)) {
    while (batches < limits.maxBatches && Date.now() < until) {
      batches += 1;
      const [logs, deliveries, runs, job] = await db.batch([
        deleteLogsOfDeletedJob(db, id, limits.logBatch),
        deleteDeliveriesOfDeletedJob(db, id, limits.runBatch),
        deleteRunsOfDeletedJob(db, id, limits.runBatch),
        deletePurgedJob(db, id),
      ]);
      report.logsDeleted += changes(logs);
      report.deliveriesDeleted += changes(deliveries);
      report.runsDeleted += changes(runs);
      report.jobsPurged += changes(job);
      // Done with this job (gone), or waiting on webhooks still under way (nothing more to delete now).
      if (changes(job) > 0 || changes(logs) + changes(deliveries) + changes(runs) === 0) break;
    }
    if (batches >= limits.maxBatches || Date.now() >= until) break;
  }
  return report;
}
