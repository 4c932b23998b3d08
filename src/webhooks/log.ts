/** The delivery log's writes: one row per attempt, written with its delivery's state; deleted by retention and the purge. */
import { sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { nextId } from "../db/ids";
import { insertRows } from "../db/json-rows";
import { webhookLogs } from "../db/schema";
import { purgeable, removable } from "../runs/retention";

export type NewWebhookLog = typeof webhookLogs.$inferInsert;

/** Statements for db.batch(), so the rows land together with their deliveries' states; ids from db/ids.ts. */
export const insertLogs = (db: Db, rows: NewWebhookLog[]) => insertRows(db, webhookLogs, rows, { id: (offset) => nextId(db, "webhook_logs", offset) });

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
  )`)
    .returning({ id: webhookLogs.id });
}

/** The purge: at most `limit` log rows of the purgeable runs among `ids` (webhook_logs_run_idx). */
export function deletePurgedLogs(db: Db, ids: number[], limit: number) {
  return db.delete(webhookLogs).where(sql`${webhookLogs.id} IN (
    SELECT l.id
    FROM ${webhookLogs} l
    WHERE ${purgeable(sql`l."runId"`, ids)}
    LIMIT ${limit}
  )`)
    .returning({ id: webhookLogs.id });
}
