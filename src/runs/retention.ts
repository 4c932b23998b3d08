/**
 * Which runs retention may delete, and their deletion. A run is kept while a job shows it (its latest
 * run, however old), while its webhook is under way and while its last attempt is recent; the rest of the finished runs older than the
 * cutoff go, each together with its delivery and its log rows (webhooks/deliveries.ts and webhooks/log.ts delete those).
 */
import { sql, type SQL } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client";
import type { Cursor } from "../db/cursors";
import { jsonValues } from "../db/json-rows";
import { deliveries, jobs, runs, webhookLogs } from "../db/schema";
import { finished } from "./conditions";

/**
 * The next `limit` finished runs that finished before `before`, after `after` (a position in
 * runs_finished_idx: the (completedAt, id) of the last run examined) in that order: ids and index keys
 * only, read from the index alone.
 */
export function findAgedRuns(db: Db, before: Date, after: Cursor | null, limit: number) {
  const afterCursor = after ? sql`(${runs.completedAt}, ${runs.id}) > (${after.at}, ${after.id})` : sql`1`;
  return db
    .select({ id: runs.id, completedAt: runs.completedAt })
    .from(runs)
    .where(sql`${finished} AND ${runs.completedAt} < ${before.getTime()} AND ${afterCursor}`)
    .orderBy(runs.completedAt, runs.id)
    .limit(limit);
}

/**
 * `runId` (a column or expression naming a run) is one of `ids` that retention may delete. Checked
 * again by each deletion, in the same batch as the others, so a run that a job started showing, or
 * whose webhook a person redelivered, since it was read is kept, with everything of it.
 */
export function removable(runId: SQL | AnySQLiteColumn, ids: number[], before: Date): SQL {
  return sql`${runId} IN (
    SELECT r.id
    FROM ${runs} r
    WHERE r.id IN ${jsonValues(ids)}
      AND r.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
      AND r."completedAt" < ${before.getTime()}
      -- A job keeps the run it shows (jobs.latestRunId), however old.
      AND NOT EXISTS (SELECT 1 FROM ${jobs} j WHERE j.id = r."jobId" AND j."latestRunId" = r.id)
      -- A webhook still under way keeps its run.
      AND NOT EXISTS (SELECT 1 FROM ${deliveries} d WHERE d."runId" = r.id AND d.state IN ('PENDING', 'SENDING', 'RETRYING'))
      -- A job's highest-numbered run stays, so the next run's number (and webhook-id) is never reused.
      AND EXISTS (SELECT 1 FROM ${runs} later WHERE later."jobId" = r."jobId" AND later.number > r.number)
      -- A recent attempt keeps its run too (an old run's webhook redelivered by hand): its age counts from it.
      AND NOT EXISTS (SELECT 1 FROM ${webhookLogs} l WHERE l."runId" = r.id AND l."sentAt" >= ${before.getTime()})
  )`;
}

/**
 * Deletes the removable runs among `ids` that have nothing left: their delivery and log rows go first
 * (earlier in the same batch), so a run whose log outgrew one pass waits for the next and no log row
 * is ever left without its run.
 */
export function deleteRuns(db: Db, ids: number[], before: Date) {
  return db.delete(runs).where(sql`${removable(runs.id, ids, before)}
    AND NOT EXISTS (SELECT 1 FROM ${deliveries} d WHERE d."runId" = ${runs.id})
    AND NOT EXISTS (SELECT 1 FROM ${webhookLogs} l WHERE l."runId" = ${runs.id})`)
    .returning({ id: runs.id });
}

/** The purge of a deleted job: its next `limit` runs after run number `after`, ids and numbers only (runs_job_number_idx). */
export function findRunsOfDeletedJob(db: Db, jobId: string, after: number, limit: number) {
  return db
    .select({ id: runs.id, number: runs.number })
    .from(runs)
    .where(sql`${runs.jobId} = ${jobId} AND ${runs.number} > ${after}`)
    .orderBy(runs.number)
    .limit(limit);
}

/**
 * `runId` is one of `ids` that the purge may delete: a finished run of a deleted job whose webhook is
 * not under way (one still owed is delivered first). Checked again by each deletion, in the same batch.
 */
export function purgeable(runId: SQL | AnySQLiteColumn, ids: number[]): SQL {
  return sql`${runId} IN (
    SELECT r.id
    FROM ${runs} r
    WHERE r.id IN ${jsonValues(ids)}
      AND r.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
      AND EXISTS (SELECT 1 FROM ${jobs} j WHERE j.id = r."jobId" AND j.status = 'DELETED')
      AND NOT EXISTS (SELECT 1 FROM ${deliveries} d WHERE d."runId" = r.id AND d.state IN ('PENDING', 'SENDING', 'RETRYING'))
  )`;
}

/** The purge: the purgeable runs among `ids` with nothing left (their deliveries and log rows went earlier in the same batch). */
export function deletePurgedRuns(db: Db, ids: number[]) {
  return db.delete(runs).where(sql`${purgeable(runs.id, ids)}
    AND NOT EXISTS (SELECT 1 FROM ${deliveries} d WHERE d."runId" = ${runs.id})
    AND NOT EXISTS (SELECT 1 FROM ${webhookLogs} l WHERE l."runId" = ${runs.id})`)
    .returning({ id: runs.id });
}
