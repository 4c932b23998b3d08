/** Drizzle queries for the delivery log: one row per attempt, newest first when listed. */
import { and, count, desc, eq, getTableColumns, gte, inArray, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { insertRows } from "../db/json-rows";
import { jobs, runs, webhookLogs, type WebhookLog } from "../db/schema";
import { notDeleted } from "../jobs/repository";
import { purgeable, removable } from "../runs/retention";
import { parseStored } from "../runs/views";

/** A log row as shown: the request body parsed (it is stored as the exact bytes sent). */
export type LogView = Omit<WebhookLog, "requestBody"> & { requestBody: unknown };
/** A log row as listed: the attempt, its job's task name and its run's number. */
export type ListedLog = LogView & { taskName: string; runNumber: number | null };

export type NewWebhookLog = typeof webhookLogs.$inferInsert;

export const logView = <T extends WebhookLog>(row: T): Omit<T, "requestBody"> & { requestBody: unknown } => ({ ...row, requestBody: parseStored(row.requestBody) });

/** Statements for db.batch(), so the rows land together with their deliveries' states. */
export const insertLogs = (db: Db, rows: NewWebhookLog[]) => insertRows(db, webhookLogs, rows);

export interface LogFilter {
  jobId?: string;
  /** success: the receiver answered 2xx; failure: anything else (error status, timeout, network). */
  outcome?: "success" | "failure";
}

const status = webhookLogs.responseStatus;
const byOutcome = {
  success: and(gte(status, 200), lt(status, 300)),
  failure: or(isNull(status), lt(status, 200), gte(status, 300)),
};

export async function listLogs(db: Db, { jobId, outcome }: LogFilter, limit: number, offset: number) {
  const where = and(
    jobId ? eq(webhookLogs.jobId, jobId) : undefined,
    outcome ? byOutcome[outcome] : undefined,
  );
  const [rows, [total]] = await db.batch([
    // With the job's task name and the run's number, so a list of deliveries reads as more than ids.
    db
      .select({ ...getTableColumns(webhookLogs), taskName: jobs.taskName, runNumber: runs.number })
      .from(webhookLogs)
      .innerJoin(jobs, and(eq(jobs.id, webhookLogs.jobId), notDeleted))
      .leftJoin(runs, eq(runs.id, webhookLogs.runId))
      .where(where)
      .orderBy(desc(webhookLogs.id))
      .limit(limit)
      .offset(offset),
    db.select({ n: count() }).from(webhookLogs).where(where),
  ]);
  return { rows: rows.map(logView), total: total?.n ?? 0 };
}

/** The attempts of these runs, newest first, at most `limit` per call. */
export async function listRunLogs(db: Db, runIds: number[], limit: number): Promise<LogView[]> {
  if (runIds.length === 0) return [];
  const rows = await db.select().from(webhookLogs).where(inArray(webhookLogs.runId, runIds)).orderBy(desc(webhookLogs.id)).limit(limit);
  return rows.map(logView);
}

/**
 * Retention: deletes at most `limit` log rows of the removable runs among `runIds` (see
 * runs/retention.ts), found through webhook_logs_run_idx. A run with more left waits for the next batch.
 */
export function deleteRunLogs(db: Db, runIds: number[], before: Date, limit: number) {
  return db.delete(webhookLogs).where(sql`${webhookLogs.id} IN (
    SELECT l.id
    FROM ${webhookLogs} l
    WHERE ${removable(sql`l."runId"`, runIds, before)}
    LIMIT ${limit}
  )`);
}

/** The purge: at most `limit` log rows of the purgeable runs among `ids` (webhook_logs_run_idx). */
export function deletePurgedLogs(db: Db, ids: number[], limit: number) {
  return db.delete(webhookLogs).where(sql`${webhookLogs.id} IN (
    SELECT l.id
    FROM ${webhookLogs} l
    WHERE ${purgeable(sql`l."runId"`, ids)}
    LIMIT ${limit}
  )`);
}
