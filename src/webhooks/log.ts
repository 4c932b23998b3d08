/** The delivery log's writes: one row per attempt, written with its delivery's state; deleted by retention and the purge. */
import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { nextId } from "../db/ids";
import { insertRows } from "../db/json-rows";
import { runs, webhookLogs } from "../db/schema";
import { purgeable, removable } from "../runs/retention";

export type NewWebhookLog = typeof webhookLogs.$inferInsert;

/** Statements for db.batch(), so the rows land together with their deliveries' states; ids from db/ids.ts. */
export const insertLogs = (db: Db, rows: NewWebhookLog[]) => insertRows(db, webhookLogs, rows, { id: (offset) => nextId("webhook_logs", offset) });

/**
 * The log rows (as `l`) of the delivery whose row is `d` (an alias, or "deliveries"): those of its job
 * between the first and the last attempt it recorded (webhook_logs_job_idx, a short range), of its run.
 * None before its first attempt is logged. (Log rows of runs without a delivery, which only databases
 * from before 0004 can hold, are found by their job alone: the purge of a deleted job takes them.)
 */
export const loggedFor = (d: string): SQL =>
  sql.raw(`l."jobId" = ${d}."jobId" AND l.id BETWEEN ${d}."firstLogId" AND ${d}."lastLogId" AND l."runId" = ${d}."runId"`);

/**
 * The log row an attempt of the delivery `d` wrote earlier in the same batch: its job's newest of its
 * run (webhook_logs_job_idx read backwards from the end, stopping at the first of the run).
 */
export const loggedNow = (d: string): SQL =>
  sql.raw(`(SELECT l.id FROM "webhook_logs" l WHERE l."jobId" = ${d}."jobId" AND l."runId" = ${d}."runId" ORDER BY l.id DESC LIMIT 1)`);

/**
 * Retention: deletes at most `limit` log rows of the removable runs among `runIds` (see
 * runs/retention.ts), found through their deliveries (loggedFor). A run with more left waits for the next batch.
 */
export function deleteRunLogs(db: Db, runIds: number[], before: Date, limit: number) {
  return db.delete(webhookLogs).where(sql`${webhookLogs.id} IN (
    SELECT l.id
    FROM "deliveries" d JOIN ${webhookLogs} l ON ${loggedFor("d")}
    WHERE ${removable(sql`d."runId"`, runIds, before)}
    LIMIT ${limit}
  )`)
    .returning({ id: webhookLogs.id });
}

/** The purge: at most `limit` log rows of the purgeable runs among `ids` (through their deliveries). */
export function deletePurgedLogs(db: Db, ids: number[], limit: number) {
  return db.delete(webhookLogs).where(sql`${webhookLogs.id} IN (
    SELECT l.id
    FROM "deliveries" d JOIN ${webhookLogs} l ON ${loggedFor("d")}
    WHERE ${purgeable(sql`d."runId"`, ids)}
    LIMIT ${limit}
  )`)
    .returning({ id: webhookLogs.id });
}

/**
 * The purge's last step before a deleted job's row: at most `limit` of its log rows, only once it has no
 * run left (a run whose webhook is still owed keeps its attempts), through webhook_logs_job_idx.
 */
export function deleteLogsOfJob(db: Db, jobId: string, limit: number) {
  return db.delete(webhookLogs).where(sql`${webhookLogs.id} IN (
    SELECT l.id FROM ${webhookLogs} l
    WHERE l."jobId" = ${jobId} AND NOT EXISTS (SELECT 1 FROM ${runs} r WHERE r."jobId" = ${jobId})
    LIMIT ${limit}
  )`);
}
