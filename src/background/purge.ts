/**
 * The purge (a phase of every sweep): removes what deleted jobs leave behind, in bounded batches. A
 * delete hides its job at once and stops its runs (jobs/service.ts deleteJobs); its runs, deliveries and
 * log rows go here, `runBatch` runs at a time, each batch one D1 transaction that deletes log rows
 * first, then deliveries without logs, then runs without either, so a batch cut short leaves nothing
 * orphaned. A delivery still under way is left to finish (its webhook is owed), and its job goes to the
 * back of the line meanwhile; the job's row goes last.
 */
import { changes, getDb, removed } from "../db/client";
import { onEveryShard } from "../db/shards";
import { deletePurgedDeliveries } from "../webhooks/deliveries";
import type { Env } from "../env";
import { findDeletedJobs } from "../jobs/repository";
import { deletePurgedJob, purgeLater } from "../jobs/state";
import { deletePurgedRuns, findRunsOfDeletedJob } from "../runs/retention";
import { deletePurgedLogs } from "../webhooks/log";

export interface PurgeLimits {
  /** Most runs (and deliveries) looked at, so deleted, per batch. */
  runBatch: number;
  /** Most log rows deleted per batch; a run with a longer log goes in a later batch. */
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

/** The purge of every shard (each its own deleted jobs). */
export const purge = (env: Env, now = new Date(), limits: PurgeLimits = PURGE_LIMITS): Promise<PurgeReport> => onEveryShard(env, (shard) => purgeShard(shard, now, limits));

async function purgeShard(env: Env, now: Date, limits: PurgeLimits): Promise<PurgeReport> {
  const db = getDb(env.DB);
  const report: PurgeReport = { jobsPurged: 0, runsDeleted: 0, deliveriesDeleted: 0, logsDeleted: 0 };
  const until = Date.now() + limits.budgetMs;
  let batches = 0;
  const more = () => batches < limits.maxBatches && Date.now() < until;
  for (const { id } of await findDeletedJobs(db, limits.maxBatches)) {
    // The job's runs in number order, a batch at a time (keyset: what a batch reads is bounded).
    let after = 0;
    while (more()) {
      batches += 1;
      const batch = await findRunsOfDeletedJob(db, id, after, limits.runBatch);
      if (batch.length === 0) {
        const [job] = await db.batch([deletePurgedJob(db, id)]);
        if (changes(job) > 0) report.jobsPurged += 1;
        // Runs of it are kept while their webhooks are owed: it goes to the back of the line.
        else await purgeLater(db, id, now);
        break;
      }
      const ids = batch.map((run) => run.id);
      // Logs first, then deliveries without logs, then runs without either: a batch cut short leaves no orphan.
      const [logs, deliveries, runs] = await db.batch([deletePurgedLogs(db, ids, limits.logBatch), deletePurgedDeliveries(db, ids), deletePurgedRuns(db, ids)]);
      report.logsDeleted += removed(logs);
      report.deliveriesDeleted += changes(deliveries);
      report.runsDeleted += removed(runs);
      // The log cap cut this batch short: the same runs again, else the next ones.
      if (removed(logs) < limits.logBatch) after = batch.at(-1)!.number;
    }
    if (!more()) break;
  }
  return report;
}
