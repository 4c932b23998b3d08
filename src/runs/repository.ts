/**
 * Drizzle reads of runs: one run or a job's runs page by page (each with its delivery), the runs queue
 * messages name (without user data), and the ones the dispatcher, a cancel and the sweep look for,
 * through the partial indexes of unfinished runs. Every write to `runs` is in lifecycle.ts.
 */
import { and, count, desc, eq, getTableColumns, inArray, lt, sql } from "drizzle-orm";
import { aliasedColumns, joined } from "../db/aliased";
import type { Db } from "../db/client";
import { jsonValues } from "../db/json-rows";
import { countMatches, type KeysetList, pageKeys } from "../db/keyset";
import { deliveries, type Delivery, jobs, type Run, runs } from "../db/schema";
import type { CountFrom, Keyed, Start } from "../lib/pagination";
import { deliveryBodyOf, type DeliveryWithBody, type RunRef, webhookIdOf } from "../webhooks/body";
import { dueBy, finishedAfter, inProgress, MAX_PRIORITY_OFFSET_MS, runIn, scheduled } from "./conditions";
import { shownStatus } from "../jobs/state";

export interface RunWithDelivery {
  run: Run;
  delivery: DeliveryWithBody | null;
}

/** A joined delivery's columns (aliasedColumns), with the bytes it sends. */
const deliveryColumns = () => ({ ...aliasedColumns(deliveries, "d"), body: deliveryBodyOf("deliveries").as("d_body") });

const withDelivery = (db: Db) =>
  db
    .select({ run: getTableColumns(runs), delivery: deliveryColumns() })
    .from(runs)
    .leftJoin(deliveries, eq(deliveries.runId, runs.id));

type Row = Awaited<ReturnType<ReturnType<typeof withDelivery>["get"]>>;
const toRunWithDelivery = (row: NonNullable<Row>): RunWithDelivery => ({ run: row.run, delivery: joined<DeliveryWithBody>(row.delivery, "runId") });

/** A run by id, unless its job was deleted. */
export async function findRun(db: Db, id: number): Promise<RunWithDelivery | undefined> {
  const row = await withDelivery(db)
    .where(and(eq(runs.id, id), sql`EXISTS (SELECT 1 FROM ${jobs} j WHERE j.id = ${runs.jobId} AND j.status != 'DELETED')`))
    .get();
  return row && toRunWithDelivery(row);
}

/** What the consumer reads of a run: its state and times, never its copy of the user's payload (which might not parse). */
export type RunState = Pick<Run, "id" | "jobId" | "number" | "status" | "dueAt" | "startedAt">;
export interface RunStateWithDelivery {
  run: RunState;
  delivery: DeliveryWithBody | null;
}

const stateWithDelivery = (db: Db) =>
  db
    .select({
      run: { id: runs.id, jobId: runs.jobId, number: runs.number, status: runs.status, dueAt: runs.dueAt, startedAt: runs.startedAt },
      delivery: deliveryColumns(),
    })
    .from(runs)
    .leftJoin(deliveries, eq(deliveries.runId, runs.id));

type StateRow = Awaited<ReturnType<ReturnType<typeof stateWithDelivery>["get"]>>;
const toStateWithDelivery = (row: NonNullable<StateRow>): RunStateWithDelivery => ({ run: row.run, delivery: joined<DeliveryWithBody>(row.delivery, "runId") });

/** The run a queue message names, with its delivery. */
export async function findRunByRef(db: Db, ref: RunRef): Promise<RunStateWithDelivery | undefined> {
  const row = await stateWithDelivery(db)
    .where(and(eq(runs.jobId, ref.jobId), eq(runs.number, ref.number)))
    .get();
  return row && toStateWithDelivery(row);
}

/** The runs the messages of a batch name, with their deliveries, keyed by webhook-id (one round trip). */
export async function findRunsByRefs(db: Db, refs: RunRef[]): Promise<Map<string, RunStateWithDelivery>> {
  const rows = refs.length > 0 ? await stateWithDelivery(db).where(runIn(refs)) : [];
  return new Map(rows.map((row) => [webhookIdOf(row.run), toStateWithDelivery(row)]));
}

/**
 * Which run a message names and its state, without user data: the dead-letter consumer must never be
 * stopped by a row it cannot parse.
 */
export async function findRunState(db: Db, ref: RunRef) {
  return db
    .select({ id: runs.id, status: runs.status, deliveryState: deliveries.state, deliveryAttempts: deliveries.attempts })
    .from(runs)
    .leftJoin(deliveries, eq(deliveries.runId, runs.id))
    .where(and(eq(runs.jobId, ref.jobId), eq(runs.number, ref.number)))
    .get();
}

/**
 * What the dispatcher weighs, in their place in line: SCHEDULED runs due by `now` (from the dispatch
 * index: rank is at most the due time plus the largest priority offset), each with its job's schedule,
 * whether the job is running, and how many occurrences its schedule has made.
 */
export function findDueRuns(db: Db, now: Date, limit: number) {
  return db
    .select({
      id: runs.id,
      jobId: runs.jobId,
      number: runs.number,
      dueAt: runs.dueAt,
      occurrenceAt: runs.occurrenceAt,
      schedule: jobs.schedule,
      paused: jobs.paused,
      jobStatus: shownStatus,
      scheduleCursor: jobs.scheduleCursor,
      occurrences: jobs.occurrences,
    })
    .from(runs)
    .innerJoin(jobs, eq(jobs.id, runs.jobId))
    .where(dueBy(now.getTime()))
    .orderBy(runs.rank)
    .limit(limit);
}

export type DueRun = Awaited<ReturnType<typeof findDueRuns>>[number];

/** Whether any SCHEDULED run is due (waiting for a slot, or for its start): one index probe. */
export const anyDueRun = (db: Db, now: Date) => db.select({ id: runs.id }).from(runs).where(dueBy(now.getTime())).limit(1);

/**
 * How many runs are in progress, counted no further than `upTo` (the concurrency limit: all a slot count
 * needs), so the count costs at most the limit's worth of index entries, and nothing without a limit.
 */
export const countInProgress = (db: Db, upTo: number) =>
  db.select({ n: count() }).from(sql`(SELECT 1 FROM ${runs} WHERE ${inProgress} LIMIT ${sql.raw(String(Math.max(0, Math.trunc(upTo))))})`);

/** A job's runs as a keyset list (db/keyset.ts): newest first by number, from runs_job_number_idx. */
const runsList = (jobId: string): KeysetList => ({ key: sql`${runs.number}`, matches: sql`${runs} WHERE ${eq(runs.jobId, jobId)}`, order: "desc" });

/** A page of a job's runs and the bounded count of them (one round trip): a minutely job has 43 000 a month. */
export async function listRuns(db: Db, jobId: string, limit: number, start: Start, count: CountFrom, countLimit: number | null): Promise<{ rows: Keyed<RunWithDelivery>[]; counted: number }> {
  const list = runsList(jobId);
  const [rows, [counted]] = await db.batch([
    withDelivery(db)
      .where(and(eq(runs.jobId, jobId), sql`${runs.number} IN (${pageKeys(list, start, limit)})`))
      .orderBy(desc(runs.number)),
    countMatches(db, list, count, countLimit),
  ]);
  return { rows: rows.map((row) => ({ key: row.run.number, item: toRunWithDelivery(row) })), counted: counted?.n ?? 0 };
}

/**
 * Each job's current run, as a cancel sees it: the latest started of its runs in progress, else its next
 * run to come (null when it has neither), with what its schedule needs (runs_in_progress_idx and
 * runs_job_scheduled_idx, one lookup each). Deleted jobs are left out.
 */
export function findCurrentRuns(db: Db, jobIds: string[]) {
  const current = sql`coalesce(
    (SELECT r.id FROM ${runs} r WHERE r."jobId" = ${jobs.id} AND r.status = 'IN_PROGRESS' ORDER BY r."startedAt" DESC, r.id DESC LIMIT 1),
    (SELECT r.id FROM ${runs} r WHERE r."jobId" = ${jobs.id} AND r.status = 'SCHEDULED' ORDER BY r."dueAt" LIMIT 1)
  )`;
  return db
    .select({
      jobId: jobs.id,
      schedule: jobs.schedule,
      paused: jobs.paused,
      occurrences: jobs.occurrences,
      run: { id: runs.id, number: runs.number, status: runs.status, occurrenceAt: runs.occurrenceAt },
    })
    .from(jobs)
    .leftJoin(runs, sql`${runs.id} = ${current}`)
    .where(and(inArray(jobs.id, jsonValues(jobIds)), sql`${jobs.status} != 'DELETED'`));
}

/** Runs in progress whose message is overdue (expected before `before`), without user data. */
export function findOverdueRuns(db: Db, before: Date, limit: number) {
  return db
    .select({ id: runs.id, jobId: runs.jobId, number: runs.number, recoveries: runs.recoveries, startedAt: runs.startedAt })
    .from(runs)
    .where(and(inProgress, lt(runs.expectedAt, before)))
    .limit(limit);
}

/**
 * SCHEDULED runs due within `aheadMs` with no start message queued yet (scheduled further ahead than a
 * message could wait), from the dispatch index.
 */
export function findUnqueuedRuns(db: Db, now: Date, aheadMs: number, limit: number) {
  return db
    .select({ id: runs.id, jobId: runs.jobId, number: runs.number, dueAt: runs.dueAt })
    .from(runs)
    // rank >= dueAt > now: the scan starts after the runs already due (those waiting for a slot).
    .where(sql`${scheduled} AND ${runs.rank} > ${now.getTime()} AND ${runs.rank} <= ${now.getTime() + aheadMs + MAX_PRIORITY_OFFSET_MS} AND ${runs.expectedAt} IS NULL AND ${runs.dueAt} > ${now.getTime()}`)
    .orderBy(runs.rank)
    .limit(limit);
}

/** Where a step of finishedAfter ends: its last run's (completedAt, id) and how many runs it took (no row: none). */
export function finishedStepEnd(db: Db, after: { at: number; id: number }, until: number, limit: number) {
  return db
    .select({ at: sql<number>`e."completedAt"`, id: sql<number>`e.id`, n: sql<number>`e.n` })
    .from(
      sql`(SELECT r."completedAt", r.id, count(*) OVER () AS n FROM ${runs} r WHERE r.id IN (${finishedAfter(after, until, limit)})) AS e`,
    )
    .orderBy(sql`e."completedAt" DESC`, sql`e.id DESC`)
    .limit(1);
}
