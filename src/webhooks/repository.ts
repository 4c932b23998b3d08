/** Drizzle queries for the delivery log: one row per attempt, newest first when listed. */
import { count, desc, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { webhookLogs } from "../db/schema";

export type NewWebhookLog = typeof webhookLogs.$inferInsert;

/** A statement for db.batch(), so the row lands together with the job's delivery state. */
export const insertLog = (db: Db, row: NewWebhookLog) => db.insert(webhookLogs).values(row);

export async function listLogs(db: Db, jobId: string | undefined, limit: number, offset: number) {
  const where = jobId ? eq(webhookLogs.jobId, jobId) : undefined;
  const [rows, [total]] = await db.batch([
    db.select().from(webhookLogs).where(where).orderBy(desc(webhookLogs.id)).limit(limit).offset(offset),
    db.select({ n: count() }).from(webhookLogs).where(where),
  ]);
  return { rows, total: total?.n ?? 0 };
}
