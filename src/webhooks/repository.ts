/** Reads of deliveries and their attempts: the delivery log listed newest first, and the sweep's stalled deliveries. */
import { and, desc, eq, getTableColumns, gte, inArray, lt, type SQL, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client";
import { countMatches, keyedOnly, pageKeys, pageKeysOnly, windowEnd, type KeysetList } from "../db/keyset";
import type { CountFrom, Keyed, Start } from "../lib/pagination";
import { deliveries, jobs, runs, webhookLogs, type WebhookLog } from "../db/schema";
import { DELETED } from "../jobs/state";
import { parseStored } from "../runs/views";
import { deliveryBodyOf } from "./body";
import { leaseOf } from "./deliveries";

/** A log row as shown: the request body parsed (it is stored as the exact bytes sent). */
export type LogView = Omit<WebhookLog, "requestBody"> & { requestBody: unknown };
/**
 * A log row as listed: the attempt, its job's task name and its run's number. The attempts of a job
 * deleted since stay listed until the purge removes them (a webhook still owed is still delivered, and
 * its attempts logged): `jobDeleted` says so, and their task name is gone.
 */
export type ListedLog = LogView & { taskName: string; runNumber: number | null; jobDeleted: boolean };

export const logView = <T extends WebhookLog>(row: T): Omit<T, "requestBody"> & { requestBody: unknown } => ({ ...row, requestBody: parseStored(row.requestBody) });

/** The delivery of each log row, joined once for both of the values it lends the row. */
const sentBy = alias(deliveries, "d");

/**
 * A log row's columns, with the bytes its attempt sent and its webhook-id: its own copies where it has
 * them (rows written before 0010 and 0012 whose values were not their delivery's), else its delivery's
 * (`sentBy`, joined by primary key).
 */
const logColumns = () => ({
  ...getTableColumns(webhookLogs),
  requestBody: sql<string | null>`coalesce("webhook_logs"."requestBody", ${deliveryBodyOf("d")})`,
  deliveryId: sql<string>`coalesce("webhook_logs"."deliveryId", "d"."webhookId")`,
});

export interface LogFilter {
  jobId?: string;
  /** success: the receiver answered 2xx; failure: anything else (error status, timeout, network). */
  outcome?: "success" | "failure";
}

const status = webhookLogs.responseStatus;
/**
 * The failure condition written as webhook_logs_failed_idx's own (literals, no parameters): the planner
 * uses a partial index only for a query that states its condition.
 */
const failed = sql`(${status} IS NULL OR ${status} < 200 OR ${status} >= 300)`;
const byOutcome = {
  success: and(gte(status, 200), lt(status, 300)),
  failure: failed,
};

/**
 * The delivery log as a keyset list (db/keyset.ts), newest first by id: all of it from the table, a job's
 * from webhook_logs_job_idx, failures from webhook_logs_failed_idx (however rare they are). The outcome
 * of a job's attempts, and successes, are checked on each row walked (most attempts succeed).
 */
function logsList({ jobId, outcome }: LogFilter): KeysetList {
  const key = sql`${webhookLogs.id}`;
  if (outcome === "failure" && !jobId) return { key, matches: sql`${webhookLogs} WHERE ${failed}`, order: "desc" };
  const check = outcome ? byOutcome[outcome] : undefined;
  if (jobId) return { key, matches: sql`${webhookLogs} WHERE ${eq(webhookLogs.jobId, jobId)}`, order: "desc", check };
  return { key, matches: sql`${webhookLogs} WHERE 1`, order: "desc", check, whole: check ? undefined : { table: webhookLogs } };
}

/** One page of attempts and the bounded count of the matches, in one round trip. */
export async function listLogs(db: Db, filter: LogFilter, limit: number, start: Start, count: CountFrom, countLimit: number | null) {
  const list = logsList(filter);
  const [rows, [counted]] = await db.batch([logsWhere(db, sql`${webhookLogs.id} IN (${pageKeys(list, start, limit, { exact: countLimit === null })})`), countMatches(db, list, count, countLimit)]);
  return { rows: rows.map(listedLog), counted: counted?.n ?? 0, ...windowEnd(list, start, counted, countLimit) };
}

/** Log rows a condition picks, newest first. With the job's task name and the run's number, so a list of deliveries reads as more than ids. */
const logsWhere = (db: Db, where: SQL) =>
  db
    .select({ ...logColumns(), taskName: jobs.taskName, runNumber: runs.number, jobDeleted: sql<number>`${jobs.status} = ${DELETED}` })
    .from(webhookLogs)
    .leftJoin(sentBy, eq(sentBy.runId, webhookLogs.runId))
    .innerJoin(jobs, eq(jobs.id, webhookLogs.jobId))
    .leftJoin(runs, eq(runs.id, webhookLogs.runId))
    .where(where)
    .orderBy(desc(webhookLogs.id));

const listedLog = ({ jobDeleted, ...row }: Awaited<ReturnType<typeof logsWhere>>[number]): Keyed<ListedLog> => ({ key: row.id, item: { ...logView(row), jobDeleted: Boolean(jobDeleted) } });

/** The keys alone of a page of the log (a shard's answer for a deep page by number, db/merge.ts), and the count. */
export async function listLogKeys(db: Db, filter: LogFilter, limit: number, start: Start, count: CountFrom, countLimit: number | null) {
  const list = logsList(filter);
  const [keys, [counted]] = await db.batch([pageKeysOnly(db, list, start, limit, countLimit), countMatches(db, list, count, countLimit)]);
  return { rows: keyedOnly(keys), counted: counted?.n ?? 0, ...windowEnd(list, start, counted, countLimit) };
}

/** The log rows with these ids, newest first. */
export async function logsByKeys(db: Db, keys: number[]): Promise<Keyed<ListedLog>[]> {
  if (keys.length === 0) return [];
  return (await logsWhere(db, sql`${webhookLogs.id} IN (${sql.raw(keys.map((k) => String(Math.trunc(k))).join(","))})`)).map(listedLog);
}

/** The attempts of these runs, newest first, at most `limit` per call. */
export async function listRunLogs(db: Db, runIds: number[], limit: number): Promise<LogView[]> {
  if (runIds.length === 0) return [];
  const rows = await db
    .select(logColumns())
    .from(webhookLogs)
    .leftJoin(sentBy, eq(sentBy.runId, webhookLogs.runId))
    .where(inArray(webhookLogs.runId, runIds))
    .orderBy(desc(webhookLogs.id))
    .limit(limit);
  return rows.map(logView);
}

/** Deliveries that should have made progress by `before` and did not (their message was lost), without user data. */
export function findStalledDeliveries(db: Db, before: Date, limit: number) {
  return db
    .select({ runId: deliveries.runId, jobId: runs.jobId, number: runs.number })
    .from(deliveries)
    .innerJoin(runs, eq(runs.id, deliveries.runId))
    // An attempt in flight keeps its entry at the due time it was claimed at: it stalled only once its lease ran out too.
    .where(and(lt(deliveries.nextAttemptAt, before), sql`${leaseOf} < ${before.getTime()}`))
    .limit(limit);
}
