/** Drizzle queries for the delivery log: one row per attempt, newest first when listed. */
import { and, count, desc, eq, getTableColumns, gte, isNull, lt, or } from "drizzle-orm";
import type { Db } from "../db/client";
import { insertRows } from "../db/json-rows";
import { jobs, webhookLogs, type WebhookLog } from "../db/schema";

/** A log row as listed: the attempt and its job's task name. */
export type ListedLog = WebhookLog & { taskName: string };

export type NewWebhookLog = typeof webhookLogs.$inferInsert;

/** Statements for db.batch(), so the rows land together with their jobs' delivery states. */
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
    // With the job's task name, so a list of deliveries reads as more than ids.
    db
      .select({ ...getTableColumns(webhookLogs), taskName: jobs.taskName })
      .from(webhookLogs)
      .innerJoin(jobs, eq(jobs.id, webhookLogs.jobId))
      .where(where)
      .orderBy(desc(webhookLogs.id))
      .limit(limit)
      .offset(offset),
    db.select({ n: count() }).from(webhookLogs).where(where),
  ]);
  return { rows, total: total?.n ?? 0 };
}
