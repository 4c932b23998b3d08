/**
 * The conditions a run's state is read by, written as the partial indexes' own (literal statuses, not
 * bound parameters: SQLite uses a partial index only for a query that states its condition), and a
 * run's place in line for a slot.
 */
import { type SQL, sql } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import { field, jsonEach } from "../db/json-rows";
import { type Priority, runs } from "../db/schema";
import type { RunRef } from "../webhooks/body";

/** `(jobId, number) IN refs`, looked up through the (jobId, number) index (of `table`: runs or an alias of it). */
export const runIn = (refs: RunRef[], table: { jobId: AnySQLiteColumn; number: AnySQLiteColumn } = runs): SQL =>
  sql`(${table.jobId}, ${table.number}) IN (SELECT ${field(0)}, ${field(1)} FROM ${jsonEach(refs.map((r) => [r.jobId, r.number]))})`;

// Literal statuses (not bound parameters), so SQLite can use the partial indexes on them.
export const inProgress = sql`${runs.status} = 'IN_PROGRESS'`;
export const scheduled = sql`${runs.status} = 'SCHEDULED'`;
/** Finished, written as runs_finished_idx's own condition (the planner uses the index only then). */
export const finished = sql`${runs.status} IN ('COMPLETED', 'FAILED', 'CANCELLED')`;

/**
 * Priority as a time offset: a run's place in line for a free slot is its due time plus this. HIGH goes
 * first among runs due together; a LOW run is passed only by runs due less than 2 min after it, so it
 * is never starved.
 */
export const PRIORITY_OFFSET_MS: Record<Priority, number> = { HIGH: 0, MEDIUM: 30_000, LOW: 120_000 };
export const MAX_PRIORITY_OFFSET_MS = Math.max(...Object.values(PRIORITY_OFFSET_MS));

/**
 * A SCHEDULED run due by `now`, found through the index of places in line: a run's rank is at most its
 * due time plus the largest offset, so the range on rank bounds the lookup.
 */
export const dueBy = (now: number) => sql`${scheduled} AND ${runs.rank} <= ${now + MAX_PRIORITY_OFFSET_MS} AND ${runs.dueAt} <= ${now}`;

/** A priority as its offset in line (ms), in SQL. */
export const offsetSql = (priority: AnySQLiteColumn) =>
  sql`CASE ${priority} WHEN 'HIGH' THEN ${PRIORITY_OFFSET_MS.HIGH} WHEN 'MEDIUM' THEN ${PRIORITY_OFFSET_MS.MEDIUM} ELSE ${PRIORITY_OFFSET_MS.LOW} END`;

/**
 * The condition on the run before a new one (NewRun's afterRunId and afterCancelAt, as SQL values):
 * none, or it has left SCHEDULED, or (with a cancel time) it was cancelled then.
 */
export const afterRunHolds = (runId: SQL, cancelAt: SQL) => sql`(${runId} IS NULL OR CASE
    WHEN ${cancelAt} IS NULL THEN NOT EXISTS (SELECT 1 FROM ${runs} WHERE ${runs.id} = ${runId} AND ${scheduled})
    ELSE ${cancelledAt(runId, cancelAt)}
  END)`;

/**
 * Whether the run was CANCELLED at `at` (the cancel of the same batch): the statements that follow a
 * person's cancel in its batch depend on it, so a cancel that found its run finished changes nothing.
 */
export const cancelledAt = (runId: SQL | number, at: SQL | Date) =>
  sql`EXISTS (SELECT 1 FROM ${runs} c WHERE c.id = ${runId} AND c.status = 'CANCELLED' AND c."completedAt" = ${at instanceof Date ? at.getTime() : at})`;

/**
 * The ids of at most `limit` runs completed after `after` and by `until` (no bound: null), in
 * runs_finished_idx order (completedAt, id): a step of a walk that goes on from where the last one
 * stopped. Only completions claim a first attempt as they make their delivery (failed and cancelled
 * runs' deliveries are made PENDING, due at once), so the walk's other entries are read past.
 */
export const finishedAfter = (after: { at: number | SQL; id: number | SQL }, until: number | null, limit: number) =>
  sql`SELECT w.id FROM ${runs} w
    WHERE w.status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND w.status = 'COMPLETED'
      AND (w."completedAt", w.id) > (${after.at}, ${after.id}) ${until === null ? sql`` : sql`AND w."completedAt" <= ${until}`}
    ORDER BY w."completedAt", w.id
    LIMIT ${limit}`;
